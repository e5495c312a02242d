"""One parse-failure policy for every adapter: a value the provider sent that cannot be
read raises Malformed (never a silent None); an operation whose answer is malformed raises
Unavailable (the request may have taken effect), a malformed webhook is Rejected."""

from __future__ import annotations

import pytest

from providers.adapters import Connection, ProviderHttp, Unavailable
from providers.adapters.base import ANSWER_OPERATIONS, Adapter
from providers.adapters.errors import Malformed
from providers.adapters.normalize import parse_int, parse_time, to_decimal
from providers.adapters.records import RawPage
from providers.adapters.registry import adapter_classes
from providers.adapters.sipcentric.parse import parse_call, parse_message


@pytest.mark.parametrize("parse", [parse_time, parse_int, to_decimal])
@pytest.mark.parametrize("garbage", ["yesterday-ish", "12abc", "NaN-ish"])
def test_a_garbage_value_is_malformed(parse, garbage):
    with pytest.raises(Malformed):
        parse(garbage)


@pytest.mark.parametrize("parse", [parse_time, parse_int, to_decimal])
@pytest.mark.parametrize("absent", [None, ""])
def test_an_absent_value_is_none(parse, absent):
    assert parse(absent) is None


def test_integral_numbers_read_as_integers():
    assert [parse_int("12"), parse_int(12.0), parse_int("7.0")] == [12, 12, 7]


def test_a_record_with_a_garbage_timestamp_is_malformed_not_undated():
    with pytest.raises(Malformed, match="bad timestamp"):
        parse_message({"id": "1", "direction": "OUT", "created": "the 3rd of never", "body": "hi"})


def test_a_record_with_a_garbage_duration_is_malformed_not_zero():
    with pytest.raises(Malformed, match="bad integer"):
        parse_call({"id": "1", "created": "2026-01-01T00:00:00Z", "duration": "long"})


class _Garbled(Adapter):
    code = "garbled"
    name = "Garbled"
    default_base_url = "https://garbled.invalid"

    def send_sms(self, request):
        raise Malformed("bad integer 'x'")

    def list_messages(self, cursor):
        raise Malformed("bad timestamp 'y'")

    def fetch_calls(self, cursor):
        return RawPage([{"id": "1"}], lambda rows: parse_call({**rows[0], "duration": "long"}), None, True)


def _garbled() -> _Garbled:
    return _Garbled(Connection("https://garbled.invalid", {}), ProviderHttp("https://garbled.invalid"))


def test_a_malformed_answer_is_unavailable_and_may_have_taken_effect():
    with pytest.raises(Unavailable) as caught:
        _garbled().send_sms(None)

    assert caught.value.request_sent is True
    assert caught.value.message == "Malformed response from Garbled: bad integer 'x'"


def test_a_malformed_history_page_is_unavailable():
    with pytest.raises(Unavailable, match="Malformed response from Garbled"):
        _garbled().list_page("messages", None)


def test_a_fetched_page_whose_records_are_malformed_is_unavailable_when_parsed():
    raw = _garbled().fetch_page("calls", None)

    with pytest.raises(Unavailable, match="Malformed response from Garbled: bad integer"):
        raw.parse()


@pytest.mark.parametrize("cls", adapter_classes(), ids=lambda cls: cls.code)
def test_every_adapter_reads_its_answers_under_the_policy(cls):
    own = [klass for klass in cls.__mro__ if issubclass(klass, Adapter) and klass is not Adapter]
    defined = [(klass, name) for klass in own for name in ANSWER_OPERATIONS if name in vars(klass)]

    assert defined
    assert [name for klass, name in defined if not getattr(vars(klass)[name], "checked", False)] == []


@pytest.mark.parametrize("cls", adapter_classes(), ids=lambda cls: cls.code)
def test_every_adapter_parses_webhooks_under_the_policy(cls):
    assert getattr(cls.parse_webhook, "checked", False)

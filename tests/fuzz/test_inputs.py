"""Property tests (hypothesis) of the API's pagination cursors, the bulk-send CSV reader
and phone number / sender validation: any input is answered or refused cleanly."""

from __future__ import annotations

import base64
import csv
import io

import phonenumbers
import pytest
from django.conf import settings as django_settings
from django.db import transaction
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core.phone_input import phone_text_problem
from messaging.bulk import read_recipients
from messaging.csv_upload import BadCsv, recipients_csv_text
from messaging.encoding import check_body
from outbound.checks import parse_number

QUICK = settings(max_examples=200, deadline=None, derandomize=True)
WITH_DB = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# -- cursors -------------------------------------------------------------------------------------------
cursor_queries = st.builds(
    lambda o, r, p: "&".join(x for x in (o, r, p) if x),
    st.one_of(st.just(""), st.from_regex(r"o=-?[0-9a-z]{0,25}", fullmatch=True)),
    st.one_of(st.just(""), st.from_regex(r"r=[0-9a-z]{0,3}", fullmatch=True)),
    st.one_of(
        st.just(""),
        st.builds(lambda t: "p=" + t, st.text(max_size=40)),
        st.builds(
            lambda dt, off: f"p={dt.isoformat(sep=' ')}{off}",
            st.datetimes(),
            st.sampled_from(["", "+00:00", "+23:59", "-23:59", "Z", "+99:99"]),
        ),
    ),
)
cursors = st.one_of(
    st.text(max_size=60),
    cursor_queries.map(lambda q: base64.b64encode(q.encode("utf-8", "surrogatepass")).decode()),
)


@pytest.mark.django_db
@WITH_DB
@given(
    cursor=cursors, path=st.sampled_from(["/api/v1/messages/", "/api/v1/conversations/", "/api/v1/calls/"])
)
def test_any_cursor_is_answered_or_refused_never_a_500(api_a, cursor, path):
    assume("\x00" not in cursor)  # a NUL in the query string is refused before the view (own test)
    with transaction.atomic():  # a savepoint per example: one failure cannot poison the next
        response = api_a.get(path, {"cursor": cursor})
    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 400:
        assert "cursor" in response.json()["error"]["fields"]


# -- CSV import ----------------------------------------------------------------------------------------
@QUICK
@given(data=st.binary(max_size=3000))
def test_any_upload_is_read_as_csv_or_refused_with_a_reason(data):
    try:
        text = recipients_csv_text(data)
    except BadCsv as exc:
        assert str(exc)
        return
    rows = read_recipients(text)  # what the service does next must not fail either
    assert all("\x00" not in row.value for row in rows)


@QUICK
@given(
    numbers=st.lists(st.from_regex(r"\+467[0-9]{8}", fullmatch=True), min_size=1, max_size=30),
    header=st.booleans(),
    bom=st.booleans(),
)
def test_a_written_csv_reads_back_every_recipient_in_order(numbers, header, bom):
    out = io.StringIO()
    writer = csv.writer(out)
    if header:
        writer.writerow(["name", "phone"])
    for i, number in enumerate(numbers):
        writer.writerow([f"Person {i}", number] if header else [number])
    data = out.getvalue().encode("utf-8-sig" if bom else "utf-8")
    rows = read_recipients(recipients_csv_text(data))
    assert [row.value for row in rows] == numbers
    assert [row.line for row in rows] == list(range(1 + header, len(numbers) + 1 + header))


# -- numbers and senders --------------------------------------------------------------------------------
@QUICK
@given(text=st.text(max_size=40))
def test_parse_number_accepts_or_explains_never_crashes(text):
    try:
        number = parse_number(text)
    except ValueError as exc:
        assert str(exc)
        return
    assert number.startswith("+") and number[1:].isdigit()
    assert phonenumbers.is_valid_number(phonenumbers.parse(number))


@QUICK
@given(
    digits=st.from_regex(r"[0-9]{3,12}", fullmatch=True),
    junk=st.text(alphabet=st.characters(categories=["L", "P", "S"]), min_size=1, max_size=3),
)
def test_a_typed_number_with_letters_or_symbols_is_refused(digits, junk):
    assume(any(c not in "+-(). " for c in junk))
    assert phone_text_problem(digits + junk) is not None
    assert phone_text_problem(junk + digits) is not None


@QUICK
@given(
    national=st.from_regex(r"7[0-9]{8}", fullmatch=True),
    style=st.sampled_from(["+46{}", "+46 {}", "+46-{}", "(+46) {}", "0{}"]),
)
def test_a_swedish_mobile_typed_any_usual_way_passes_and_parses_to_e164(national, style):
    typed = style.format(national)
    assert phone_text_problem(typed) is None
    number = phonenumbers.parse(f"+46{national}")
    assume(phonenumbers.is_valid_number(number))
    assert parse_number(typed, "SE") == f"+46{national}"


@QUICK
@given(body=st.text(max_size=2000))
def test_any_sms_body_is_checked_without_crashing(body):
    _encoding, parts, problems = check_body(body, "sms", [])
    if not body.strip():
        assert problems == ["The message is empty."]
    else:
        assert parts >= 1
        assert bool(problems) == (parts > django_settings.SMS_MAX_PARTS)

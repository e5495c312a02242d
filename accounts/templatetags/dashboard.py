"""Small display helpers of the dashboard templates."""

from __future__ import annotations

from django import template

register = template.Library()

VERBS = {
    "connect": "Connect to",
    "play": "Play",
    "recordcall": "Record the call to",
    "record": "Record",
    "ivr": "Menu (IVR)",
    "hangup": "Hang up",
    "say": "Say",
    "dial": "Dial",
    "sms": "Send SMS",
    "next": "Then fetch",
}
OUTCOME_KEYS = ("result", "status", "why", "outcome")


@register.filter
def action_steps(actions) -> list[dict]:
    """A call's actions (provider JSON: [{"connect": "+46…", "result": "success"}, …]) as
    readable steps: [{"verb": "Connect to", "target": "+46…", "outcome": "success", "extra": […]}]."""
    if isinstance(actions, dict):
        actions = [actions]
    if not isinstance(actions, list):
        return [{"verb": str(actions), "target": "", "outcome": "", "extra": []}]
    steps = []
    for item in actions:
        if not isinstance(item, dict):
            steps.append({"verb": str(item), "target": "", "outcome": "", "extra": []})
            continue
        keys = [k for k in item if k not in OUTCOME_KEYS]
        main = next((k for k in keys if k in VERBS), keys[0] if keys else "")
        target = item.get(main, "")
        steps.append(
            {
                "verb": VERBS.get(main, main.replace("_", " ").capitalize()),
                "target": target if isinstance(target, str | int | float) else "",
                "outcome": " ".join(str(item[k]) for k in OUTCOME_KEYS if item.get(k)),
                "extra": [(k, v) for k, v in item.items() if k != main and k not in OUTCOME_KEYS],
            }
        )
    return steps

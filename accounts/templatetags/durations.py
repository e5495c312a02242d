"""`{{ run.duration|human_duration }}` → "0.9 s", "42 s", "3 min 5 s", "2 h 4 min"."""

from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def human_duration(value: timedelta | None) -> str:
    if value is None:
        return ""
    seconds = value.total_seconds()
    if seconds < 10:
        return f"{seconds:.1f} s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"

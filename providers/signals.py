"""Signals other apps listen to, so `providers` never imports them (layering)."""

from django.dispatch import Signal

# Sent after a sync run of an account ends (succeeded or failed): sender=ProviderAccount,
# account=<ProviderAccount>, run=<SyncRun>.
sync_finished = Signal()

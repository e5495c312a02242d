"""The outbound layer: what sending a message and placing a call share.

`checks` validates before a row exists (numbers, senders, the account, the idempotency
rule), `rate` hands out an account's send-rate slots, and `delivery` runs one attempt:
claim (queued -> sending, one winner), rate slot, the adapter call, and the outcome state
machine (sent / failed / retry / unknown), with the outcome write made durable. Each domain
app plugs in its model and its adapter call through a `delivery.Outbox`.

It sits below `messaging` and `calls` and imports neither (see .importlinter); it names no
provider: what differs per provider is asked of the adapter class.
"""

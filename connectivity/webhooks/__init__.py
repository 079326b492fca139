"""Webhooks: per-organisation endpoints that receive every state change of a request, connection
health changes and public comments, signed per the Standard Webhooks specification.

`events` turns lifecycle events and comments into delivery rows (in the writer's transaction),
`delivery` sends them with retries, `addresses` keeps them off private networks, `services`
manages endpoints and their secrets, `selectors` reads them for one organisation.
"""

"""Sign in with Microsoft as OpenID Connect: allauth's Microsoft provider, verified id tokens.

allauth's own Microsoft adapter reads the profile from Graph's ``/me`` and never looks at an id
token, so it cannot know the tenant (``tid``) or how the person signed in (``amr``), and it sends
no nonce. This provider keeps allauth's id ("microsoft"), URLs, settings (``tenant``,
``login_url``) and uid (the object id, which is what Graph's ``id`` is), and replaces the Graph
call with the id token from the token endpoint, checked in full: RS256 signature against the
authority's JWKS, issuer ``{login_url}/{tid}/v2.0``, audience, expiry, and the nonce sent with
this sign-in (once). PKCE is on.
"""

"""The hub as OpenID Provider of the LMS and the EAP (OpenID Connect Core 1.0).

Employees sign in to the hub upstream (:mod:`scimserver.sso.session`); relying
parties registered with ``scimserver oidc clients create`` receive ID tokens
with a pairwise ``sub`` and the claims their release policy lets through, and a
party whose purpose needs consent receives nothing until the employee consents.
:func:`scimserver.sso.provider.views.init_app` registers it on an application.
"""

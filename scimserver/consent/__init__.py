"""Employee consents: the consent register, its SCIM mirror and signed receipts.

A consent is the employee's: purpose-specific, demonstrable and withdrawable, with
fields that follow the Kantara Consent Receipt and ISO/IEC 29184. The ``consents``
table is the system of record; each User's document carries a read-only copy under
:data:`scimserver.consent.mirror.CONSENT_SCHEMA` so that SCIM reads and filters see it.
"""

"""A SAML 2.0 identity provider for tests: real XML, really signed with xmlsec.

It reads the hub's AuthnRequest from the HTTP-Redirect URL (DEFLATE, base64;
SAML 2.0 Bindings §3.4.4.1) and answers with a Response whose Assertion is
signed with an RSA key made by ``cryptography`` (enveloped signature, exclusive
C14N, RSA-SHA256, as SAML 2.0 Core §5 prescribes). Options spoil one part of
the response at a time, so that each refusal of the hub can be shown.

For single logout (:mod:`.saml_slo`) it speaks the HTTP-Redirect binding too.
"""

from __future__ import annotations

import base64
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree

PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
ASSERTION = "urn:oasis:names:tc:SAML:2.0:assertion"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
PASSWORD = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
NSMAP = {"samlp": PROTOCOL, "saml": ASSERTION}


@dataclass(frozen=True)
class KeyPair:
    """An RSA key and its self-signed certificate, both PEM."""

    private_key: str
    certificate: str

    @classmethod
    def generate(cls, name: str = "Test IdP") -> KeyPair:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365))
            .sign(key, hashes.SHA256())
        )
        return cls(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode(),
            certificate.public_bytes(serialization.Encoding.PEM).decode(),
        )


@dataclass(frozen=True)
class AuthnRequest:
    """What the IdP reads from the hub's request."""

    id: str
    issuer: str
    acs_url: str
    relay_state: str | None


@dataclass
class Assertion:
    """The parts of a response a test may change."""

    name_id: str
    audience: str
    recipient: str
    in_response_to: str | None = None
    attributes: dict[str, list[str]] = field(default_factory=dict)
    issued_at: datetime | None = None
    lifetime: timedelta = timedelta(minutes=5)
    signature_algorithm: str = "rsa-sha256"
    sign: bool = True
    session_index: str = field(default_factory=lambda: f"_s{uuid.uuid4().hex}")


class TestIdp:
    """Signs responses as the IdP ``entity_id``."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, entity_id: str, keys: KeyPair | None = None) -> None:
        self.entity_id = entity_id
        self.keys = keys or KeyPair.generate()

    @staticmethod
    def read_request(redirect_url: str) -> AuthnRequest:
        """Decode the AuthnRequest of an HTTP-Redirect binding URL."""
        query = parse_qs(urlsplit(redirect_url).query)
        xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15)
        request = etree.fromstring(xml)
        issuer = request.find("saml:Issuer", NSMAP)
        return AuthnRequest(
            id=request.get("ID"),
            issuer="" if issuer is None else issuer.text or "",
            acs_url=request.get("AssertionConsumerServiceURL"),
            relay_state=query.get("RelayState", [None])[0],
        )

    def response(self, assertion: Assertion, keys: KeyPair | None = None) -> str:
        """The base64 SAMLResponse of the HTTP-POST binding."""
        document = self.response_xml(assertion, keys)
        return base64.b64encode(etree.tostring(document)).decode()

    def response_xml(
        self, assertion: Assertion, keys: KeyPair | None = None
    ) -> etree._Element:
        """The Response element; the Assertion signed with ``keys`` (or the IdP's)."""
        issued = assertion.issued_at or datetime.now(UTC)
        response = etree.Element(f"{{{PROTOCOL}}}Response", nsmap=NSMAP)
        response.attrib.update(self._header(issued, assertion.in_response_to))
        response.set("Destination", assertion.recipient)
        self._issuer(response)
        status = etree.SubElement(response, f"{{{PROTOCOL}}}Status")
        etree.SubElement(status, f"{{{PROTOCOL}}}StatusCode", Value=SUCCESS)

        element = self._assertion(response, assertion, issued)
        if assertion.sign:
            self._sign(element, keys or self.keys, assertion.signature_algorithm)
        return response

    def _assertion(
        self, response: etree._Element, assertion: Assertion, issued: datetime
    ) -> etree._Element:
        element = etree.SubElement(response, f"{{{ASSERTION}}}Assertion")
        element.attrib.update(self._header(issued, None))
        self._issuer(element)
        ends = _instant(issued + assertion.lifetime)

        subject = etree.SubElement(element, f"{{{ASSERTION}}}Subject")
        name_id = etree.SubElement(subject, f"{{{ASSERTION}}}NameID", Format=PERSISTENT)
        name_id.text = assertion.name_id
        confirmation = etree.SubElement(
            subject, f"{{{ASSERTION}}}SubjectConfirmation", Method=BEARER
        )
        data = etree.SubElement(
            confirmation,
            f"{{{ASSERTION}}}SubjectConfirmationData",
            NotOnOrAfter=ends,
            Recipient=assertion.recipient,
        )
        if assertion.in_response_to is not None:
            data.set("InResponseTo", assertion.in_response_to)

        conditions = etree.SubElement(
            element,
            f"{{{ASSERTION}}}Conditions",
            NotBefore=_instant(issued - timedelta(minutes=1)),
            NotOnOrAfter=ends,
        )
        restriction = etree.SubElement(
            conditions, f"{{{ASSERTION}}}AudienceRestriction"
        )
        etree.SubElement(
            restriction, f"{{{ASSERTION}}}Audience"
        ).text = assertion.audience
        statement = etree.SubElement(
            element,
            f"{{{ASSERTION}}}AuthnStatement",
            AuthnInstant=_instant(issued),
            SessionIndex=assertion.session_index,
        )
        context = etree.SubElement(statement, f"{{{ASSERTION}}}AuthnContext")
        etree.SubElement(
            context, f"{{{ASSERTION}}}AuthnContextClassRef"
        ).text = PASSWORD
        self._attributes(element, assertion.attributes)
        return element

    def _attributes(
        self, element: etree._Element, values: dict[str, list[str]]
    ) -> None:
        if not values:
            return
        statement = etree.SubElement(element, f"{{{ASSERTION}}}AttributeStatement")
        for name, items in values.items():
            attribute = etree.SubElement(
                statement, f"{{{ASSERTION}}}Attribute", Name=name
            )
            for item in items:
                etree.SubElement(
                    attribute, f"{{{ASSERTION}}}AttributeValue"
                ).text = item

    def _sign(self, element: etree._Element, keys: KeyPair, algorithm: str) -> None:
        """An enveloped XML signature over ``element`` (XML-DSig §6)."""
        sha1 = algorithm == "rsa-sha1"
        signature = xmlsec.template.create(
            element,
            xmlsec.constants.TransformExclC14N,
            xmlsec.constants.TransformRsaSha1
            if sha1
            else xmlsec.constants.TransformRsaSha256,
        )
        element.insert(1, signature)  # right after the Issuer (Core §2.3.3)
        reference = xmlsec.template.add_reference(
            signature,
            xmlsec.constants.TransformSha1
            if sha1
            else xmlsec.constants.TransformSha256,
            uri="#" + element.get("ID"),
        )
        xmlsec.template.add_transform(reference, xmlsec.constants.TransformEnveloped)
        xmlsec.template.add_transform(reference, xmlsec.constants.TransformExclC14N)
        key_info = xmlsec.template.ensure_key_info(signature)
        xmlsec.template.add_x509_data(key_info)

        key = xmlsec.Key.from_memory(
            keys.private_key, xmlsec.constants.KeyDataFormatPem
        )
        key.load_cert_from_memory(keys.certificate, xmlsec.constants.KeyDataFormatPem)
        context = xmlsec.SignatureContext()
        context.key = key
        xmlsec.tree.add_ids(element, ["ID"])
        context.sign(signature)

    def _header(self, issued: datetime, in_response_to: str | None) -> dict[str, str]:
        header = {
            "ID": f"_{uuid.uuid4().hex}",
            "Version": "2.0",
            "IssueInstant": _instant(issued),
        }
        if in_response_to is not None:
            header["InResponseTo"] = in_response_to
        return header

    def _issuer(self, parent: etree._Element) -> None:
        etree.SubElement(parent, f"{{{ASSERTION}}}Issuer").text = self.entity_id


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

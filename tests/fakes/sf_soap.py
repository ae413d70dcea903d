"""Logins and the Metadata API of the fake Salesforce org (SOAP and OAuth).

* SOAP ``login`` (``/services/Soap/u/XX.X``): username plus password-and-security-token, as
  simple-salesforce sends it; failures are the ``INVALID_LOGIN`` fault.
* OAuth 2.0 JWT bearer (``/services/oauth2/token``): an RS256 assertion signed with the key of
  a connected app registered in :attr:`Org.jwt_apps` (consumer key → public key PEM).
* Metadata ``createMetadata`` of ``CustomField`` (``/services/Soap/m/XX.X``), answered in the
  shape simple-salesforce's zeep client parses (SaveResult: errors, fullName, success).
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

__all__ = ["soap_login", "jwt_token", "metadata_call"]

_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
_XSI = "{http://www.w3.org/2001/XMLSchema-instance}type"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(root: ET.Element, name: str) -> ET.Element | None:
    return next((el for el in root.iter() if _local(el.tag) == name), None)


def _fault(code: str, message: str, kind: str = "UnexpectedErrorFault") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{_ENV}" '
            'xmlns:sf="urn:fault.partner.soap.sforce.com" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
            f'<soapenv:Fault><faultcode>sf:{code}</faultcode><faultstring>{code}: '
            f'{escape(message)}</faultstring><detail><sf:{kind} xsi:type="sf:{kind}">'
            f'<sf:exceptionCode>{code}</sf:exceptionCode><sf:exceptionMessage>{escape(message)}'
            f'</sf:exceptionMessage></sf:{kind}></detail></soapenv:Fault></soapenv:Body>'
            '</soapenv:Envelope>').encode()


def soap_login(org: Any, body: bytes, instance_url: str, version: str) -> tuple[int, bytes]:
    """``login(username, password + security token)`` → (status, SOAP XML)."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return 500, _fault("INVALID_LOGIN", "malformed login request", "LoginFault")
    user, pwd = _find(root, "username"), _find(root, "password")
    username = (user.text or "") if user is not None else ""
    password = (pwd.text or "") if pwd is not None else ""
    if org.users.get(username) != password:
        return 500, _fault("INVALID_LOGIN", "Invalid username, password, security token; or "
                                            "user locked out.", "LoginFault")
    sid = org.new_session()
    oid = org.org_id[:15]
    xml = (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{_ENV}" '
           'xmlns="urn:partner.soap.sforce.com" '
           'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
           '<loginResponse><result>'
           f'<metadataServerUrl>{instance_url}/services/Soap/m/{version}/{oid}'
           '</metadataServerUrl><passwordExpired>false</passwordExpired>'
           f'<sandbox>false</sandbox><serverUrl>{instance_url}/services/Soap/u/{version}/{oid}'
           f'</serverUrl><sessionId>{sid}</sessionId><userId>{org.user_id}</userId>'
           f'<userInfo><organizationId>{org.org_id}</organizationId>'
           f'<userName>{escape(username)}</userName></userInfo>'
           '</result></loginResponse></soapenv:Body></soapenv:Envelope>')
    return 200, xml.encode()


def jwt_token(org: Any, body: bytes, instance_url: str) -> tuple[int, dict[str, Any]]:
    """OAuth JWT bearer flow → (status, token or OAuth error JSON)."""
    import jwt

    form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
    if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
        return 400, {"error": "unsupported_grant_type", "error_description": "grant type not "
                                                                              "supported"}
    assertion = form.get("assertion", "")
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return 400, {"error": "invalid_grant", "error_description": "invalid assertion"}
    key = org.jwt_apps.get(claims.get("iss"))
    if key is None:
        return 400, {"error": "invalid_client_id", "error_description": "client identifier "
                                                                        "invalid"}
    try:
        jwt.decode(assertion, key, algorithms=["RS256"], options={"verify_aud": False,
                                                                  "require": ["exp"]})
    except jwt.PyJWTError:
        return 400, {"error": "invalid_grant", "error_description": "invalid assertion"}
    if claims.get("sub") not in org.users:
        return 400, {"error": "invalid_grant", "error_description": "user hasn't approved "
                                                                    "this consumer"}
    return 200, {"access_token": org.new_session(), "scope": "api", "instance_url": instance_url,
                 "id": f"{instance_url}/id/{org.org_id}/{org.user_id}", "token_type": "Bearer",
                 "issued_at": str(int(time.time() * 1000)), "signature": "ZmFrZQ=="}


def _save_result(result: dict[str, Any]) -> str:
    errors = "".join(
        f"<errors><message>{escape(e['message'])}</message><statusCode>{e['statusCode']}"
        "</statusCode></errors>" for e in result["errors"])
    return (f"<result>{errors}<fullName>{escape(result['fullName'])}</fullName>"
            f"<success>{'true' if result['success'] else 'false'}</success></result>")


def metadata_call(org: Any, body: bytes) -> tuple[int, bytes]:
    """A Metadata API SOAP call → (status, SOAP XML); only ``createMetadata`` of fields."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return 500, _fault("INVALID_XML", "malformed request")
    sid = _find(root, "sessionId")
    if sid is None or sid.text not in org.sessions:
        return 500, _fault("INVALID_SESSION_ID", "Invalid Session ID found in SessionHeader: "
                                                 "Illegal Session")
    try:
        org.count_call()
    except Exception:
        return 500, _fault("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
    call = _find(root, "Body")
    op = _local(call[0].tag) if call is not None and len(call) else ""
    if op != "createMetadata":
        return 500, _fault("UNKNOWN_EXCEPTION", f"{op} is not supported by the fake org")
    results = []
    for item in call[0]:  # type: ignore[index]
        values = {_local(child.tag): child.text or "" for child in item}
        kind = (item.get(_XSI) or "").rsplit(":", 1)[-1]
        if kind != "CustomField":
            results.append({"fullName": values.get("fullName", ""), "success": False, "errors": [
                {"statusCode": "UNKNOWN_EXCEPTION", "message": f"{kind} is not supported"}]})
            continue

        def num(name: str, values: dict[str, str] = values) -> int | None:
            return int(values[name]) if values.get(name) else None
        with org.lock:
            results.append(org.create_custom_field(
                values.get("fullName", ""), values.get("label", ""), values.get("type", ""),
                num("precision"), num("scale"), num("length")))
    xml = (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{_ENV}" '
           'xmlns="http://soap.sforce.com/2006/04/metadata"><soapenv:Body>'
           f'<createMetadataResponse>{"".join(_save_result(r) for r in results)}'
           '</createMetadataResponse></soapenv:Body></soapenv:Envelope>')
    return 200, xml.encode()

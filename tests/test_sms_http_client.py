"""The Twilio-compatible SMS client (addons/collections_omni/tools/sms_http_client.py),
loaded without Odoo the way the workers load it."""

from collections_worker.clients import sign, verify_signature

# Twilio's published example (twilio-python/php/csharp RequestValidator tests).
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}


def test_signature_matches_twilio_published_vectors():
    assert sign("12345", TWILIO_URL, TWILIO_PARAMS) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    repeated = {"Sid": "CA123", "SidAccount": "AC123", "Digits": ["5678", "1234", "1234"]}
    assert sign("12345", TWILIO_URL, repeated) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


def test_verify_signature_rejects_any_tampering():
    signature = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert verify_signature("12345", TWILIO_URL, dict(reversed(TWILIO_PARAMS.items())), signature)
    assert not verify_signature("12345", TWILIO_URL, {**TWILIO_PARAMS, "Digits": "9999"}, signature)
    assert not verify_signature("12345", TWILIO_URL, {**TWILIO_PARAMS, "Extra": "1"}, signature)
    assert not verify_signature("12345", TWILIO_URL + "&baz=3", TWILIO_PARAMS, signature)
    assert not verify_signature("54321", TWILIO_URL, TWILIO_PARAMS, signature)
    assert not verify_signature("12345", TWILIO_URL, TWILIO_PARAMS, "")
    assert not verify_signature("12345", TWILIO_URL, TWILIO_PARAMS, None)

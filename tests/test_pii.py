"""PII and secret detection: checksums decide, redaction stays readable."""

from __future__ import annotations

import pytest

from bot.domain.pii import describe, find, mask, redact


@pytest.mark.parametrize(
    ("text", "kind", "gone", "shown"),
    [
        ("card 4111 1111 1111 1111 declined", "card", "4111 1111 1111 1111", "card ••••1111"),
        ("cc: 4111-1111-1111-1111", "card", "4111-1111-1111-1111", "••••1111"),
        ("pan 5500005555555559 leaked", "card", "5500005555555559", "••••5559"),
        ("IBAN DE89 3704 0044 0532 0130 00 in the export", "iban", "0532 0130", "IBAN ••••3000"),
        ("her SSN 123-45-6789 was shown", "national_id", "123-45-6789", "•••-••-6789"),
        ("DNI 12345678Z visible", "national_id", "12345678Z", "••••8Z"),
        ("mail john.doe@example.com please", "email", "john.doe@", "j•••@example.com"),
        ("call +1 (415) 555-2671 today", "phone", "555-2671", "••••2671"),
        ("ruf 0049 30 12345678 an", "phone", "30 12345678", "••••5678"),
        ("key sk-proj-Zx8QmT4vLp9RrWk2Nd7HsY3cAb6Ef0Gj leaked", "api_key", "Zx8QmT4vLp9RrWk2", "sk-p••••"),
        ("aws AKIAIOSFODNN7EXAMPLE", "api_key", "IOSFODNN7EXAMPLE", "AKIA••••"),
        ("slack xoxb-1234567890-abcdefghij", "api_key", "1234567890-abcdefghij", "xoxb••••"),
        ("password=Winter2026! in the page", "password", "Winter2026!", "password=••••••"),
        ("contraseña: secreto123", "password", "secreto123", "••••••"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", "private_key", "MIIEow",
         "[private key removed]"),
        ("token aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5bC7 in logs", "secret", "aB3dE5fG7hJ9kL1m", "secret ••••"),
        ("appelez le +33\u00a06\u00a012\u00a034\u00a056\u00a078 svp", "phone", "34\u00a056", "phone ••••5678"),  # NBSPs
        ("邮箱jane.roe@example.com已显示", "email", "jane.roe@", "邮箱j•••@example.com已显示"),
        ("电话+49 151 2345 6789已显示", "phone", "2345 6789", "电话phone ••••6789已显示"),
        ("mail ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ", "email", "ｊａｎｅ", "mail j•••@example.com"),  # full-width
        # IBANs in any case, with or without groups; the checksum still decides where one ends
        ("export has de89370400440532013000 in it", "iban", "0532013000", "IBAN ••••3000"),
        ("iban gb82 west 1234 5698 7654 32 shown", "iban", "5698 7654", "iban ••••5432 shown"),
        ("Iban De89 3704 0044 0532 0130 00 in the export", "iban", "0532 0130", "••••3000 in the export"),
        # settings named like a secret, as env files, YAML and JSON write them
        ("DB_PASSWORD=supersecret123 in the error page", "password", "supersecret123", "DB_PASSWORD=••••••"),
        ("ADMIN_PASSWORD: Tr0ub4dor&3 was echoed", "password", "Tr0ub4dor", "ADMIN_PASSWORD: ••••••"),
        ("export STRIPE_WEBHOOK_SECRET='whsec_f4K3v4lu3'", "password", "whsec_f4K3v4lu3", "SECRET='••••••'"),
        ("client_secret = q8Zr-example-77x", "password", "q8Zr-example-77x", "client_secret = ••••••"),
        ("GITHUB_TOKEN=abc123def456 in the build log", "password", "abc123def456", "GITHUB_TOKEN=••••••"),
        ("AWS_SECRET_ACCESS_KEY=Fk3xAmPlE/K7MDENG/bPxRfiCYEXAMPLEKEY", "password", "Fk3xAmPlE", "KEY=••••••"),
        ('{"smtp_password": "Summer#2026"}', "password", "Summer#2026", '"smtp_password": "••••••"'),
        # a user name, a slash, a password
        ("login admin / P@ssw0rd!2024 works on staging", "password", "P@ssw0rd!2024", "login admin / ••••••"),
        ("user: jane.roe / Winter#2026", "password", "Winter#2026", "user: jane.roe / ••••••"),
        ("Credentials: root / toor1234", "password", "toor1234", "root / ••••••"),
        ("username qa-bot/Qa_Test#99 in the ticket", "password", "Qa_Test#99", "username qa-bot/••••••"),
        # the password in a URL's user part, with or without a scheme
        ("DATABASE_URL postgresql://app:s3cr3t-Pw@db.example.com:5432/app", "password", "s3cr3t-Pw",
         "postgresql://app:••••••@db.example.com:5432/app"),
        ("connect with deploy:hunter22@build.example.org", "password", "hunter22", "deploy:••••••@build.example.org"),
        ("redis://:Zq9-pass@cache.example.net:6379", "password", "Zq9-pass", "redis://:••••••@cache.example.net"),
    ],
)
def test_each_kind_is_found_and_masked(text: str, kind: str, gone: str, shown: str) -> None:
    result = redact(text)
    assert kind in result.kinds
    assert gone not in result.text
    assert shown in result.text


@pytest.mark.parametrize(
    "text",
    [
        "order 1234567890123 was not delivered",  # fails Luhn
        "card 4111 1111 1111 1112 is a typo",  # fails Luhn
        "SSN 000-12-3456 is not a valid number",
        "build 2.3.14 on 2026-12-01 10:00, latency 1500 ms, commit a1b2c3d4e5",
        "the password reset flow is broken",
        "request id 9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c",  # hex ids are not secrets
        "our IBAN field rejects DE00 0000 0000 0000 0000 00",
        "订单号1234567890123未送达",  # next to CJK, still only an order number
        "版本2.3.14于2026-12-01发布，延迟1500毫秒",
        "请求id9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c失败",
        "",
        # slashes in prose, versions, paths and identifiers
        "the login page / dashboard is slow on mobile and/or tablet",
        "each user and/or admin sees the banner",
        "the user / group picker is empty",
        "user docs/v2 moved to docs/v3",
        "username field / password field labels are swapped",
        "upgraded 1.2.3 / 2.0.1 and/or 3.0.0-rc.1 on 2026-12-01",
        'File "/usr/lib/python3.11/site-packages/slack_bolt/middleware/request_verification/request_verification.py"',
        "see lib/python3.11/site-packages/sentence_transformers/models/Transformer.py line 120",
        # settings that name a field, point to the environment, or are placeholders
        "sort_key=created_at and primary_key: id",
        "API_KEY=os.environ['OPENAI_API_KEY']",
        "DB_PASSWORD=${DB_PASSWORD}",
        "OPENAI_API_KEY: <your-key>",
        # times and links that look a little like credentials
        "standup moved to 10:30@office",
        "IBAN de00 0000 0000 0000 0000 00 is rejected",  # a bad checksum in lower case too
        "ab12 cdef ghij klmn opqr is not an account",
    ],
)
def test_look_alikes_are_left_alone(text: str) -> None:
    assert redact(text).findings == ()


def test_a_mailto_link_is_an_address_not_a_user_and_password() -> None:
    result = redact("mail <mailto:help@example.com|the help desk>")
    assert result.kinds == ["email"]
    assert result.text == "mail <mailto:h•••@example.com|the help desk>"


def test_find_gives_the_spans_that_mask_replaces() -> None:
    text = "card 4111 1111 1111 1111, DB_PASSWORD=supersecret123"
    spans = find(text)
    assert [(text[s.start:s.end], s.kind) for s in spans] == [("4111 1111 1111 1111", "card"),
                                                              ("supersecret123", "password")]
    assert mask(text, spans) == redact(text)


def test_unicode_and_markup_survive_redaction() -> None:
    text = "ünïcødé 🚀 <!channel> <@U123> mail zoë@example.com"
    result = redact(text)
    assert result.text == "ünïcødé 🚀 <!channel> <@U123> mail z•••@example.com"


def test_describe_lists_kinds_in_words() -> None:
    found = redact("card 4111111111111111, mail a@b.io, phone +44 20 7946 0958").findings
    assert describe(found) == "a card number, an e-mail address and a phone number"

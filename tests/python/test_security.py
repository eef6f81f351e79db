"""TLS and SASL through the Python binding, with the security options passed as plain keyword
arguments (the binding hands every option to the core's option table). Needs the secured broker
of `script/kafka start --security` (script/test.d/35-security starts one and runs this file).
"""
import logging
import os
import threading
import time
import uuid

import pytest

import kafkette


def _env():
    values = dict(os.environ)
    path = os.path.join(os.environ.get("KAFKETTE_KAFKA_DIR", ""), "env")
    if os.environ.get("KAFKETTE_KAFKA_DIR") and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                key, _, value = line.strip().partition("=")
                values.setdefault(key, value)
    return values


ENV = _env()
pytestmark = pytest.mark.skipif(
    "KAFKETTE_BOOTSTRAP_SASL_SSL" not in ENV,
    reason="no secured broker (start one with script/kafka start --security; see 35-security)")

PASSWORD = ENV.get("KAFKETTE_SASL_PASSWORD", "")


def _unsecured_token(valid_s=3600, now=None):
    import base64
    import json

    def b64(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    now = int(time.time()) if now is None else now
    return "%s.%s." % (b64({"alg": "none"}), b64({"sub": "kafkette", "iat": now, "exp": now + valid_s}))


def options(protocol, mechanism=None, password=None):
    opts = {"security_protocol": protocol, "ssl_cafile": ENV.get("KAFKETTE_CA_FILE")}
    if mechanism == "OAUTHBEARER":
        opts.update(sasl_mechanism=mechanism, sasl_oauth_token=_unsecured_token())
    elif mechanism:
        opts.update(sasl_mechanism=mechanism, sasl_username=ENV["KAFKETTE_SASL_USERNAME"],
                    sasl_password=password if password is not None else PASSWORD)
    return opts


def producer(bootstrap, **opts):
    return kafkette.Producer(bootstrap.split(","), "py-security", **opts)


def consumer(bootstrap, topic, **opts):
    host, port = bootstrap.split(",")[0].rsplit(":", 1)
    return kafkette.PartitionConsumer("py-security", host, int(port), topic, 0, "earliest_offset",
                                      max_wait_ms=100, **opts)


CASES = [
    ("KAFKETTE_BOOTSTRAP_SSL", "SSL", None),
    ("KAFKETTE_BOOTSTRAP_SASL_PLAINTEXT", "SASL_PLAINTEXT", "PLAIN"),
    ("KAFKETTE_BOOTSTRAP_SASL_PLAINTEXT", "SASL_PLAINTEXT", "SCRAM-SHA-256"),
    ("KAFKETTE_BOOTSTRAP_SASL_SSL", "SASL_SSL", "SCRAM-SHA-512"),
    ("KAFKETTE_BOOTSTRAP_SASL_SSL", "SASL_SSL", "OAUTHBEARER"),
]


@pytest.mark.parametrize("listener,protocol,mechanism", CASES)
def test_round_trip(listener, protocol, mechanism):
    bootstrap = ENV[listener]
    topic = "py-sec-" + uuid.uuid4().hex[:12]
    opts = options(protocol, mechanism)
    values = [b"secured-%d" % i for i in range(20)]
    with producer(bootstrap, **opts) as p:
        assert p.send_messages([kafkette.MessageToSend(topic, v, partition=0) for v in values])
    got = []
    with consumer(bootstrap, topic, **opts) as c:
        for _ in range(50):
            got.extend(m.value for m in c.fetch())
            if len(got) >= len(values):
                break
    assert got == values


def test_wrong_password_is_an_authentication_error_without_the_password():
    with pytest.raises(kafkette.Error) as info:
        with producer(ENV["KAFKETTE_BOOTSTRAP_SASL_SSL"],
                      **options("SASL_SSL", "SCRAM-SHA-512", password="py-wrong-Pa55")) as p:
            p.send_messages([kafkette.MessageToSend("py-sec-never", b"x")])
    assert isinstance(info.value, kafkette.AuthenticationError), repr(info.value)
    for e in (info.value, info.value.__cause__):
        assert "py-wrong-Pa55" not in str(e) and "py-wrong-Pa55" not in repr(e)


def test_unknown_ca_is_a_certificate_error():
    opts = options("SSL")
    opts["ssl_cafile"] = ENV["KAFKETTE_OTHER_CA_FILE"]
    with pytest.raises(kafkette.Error) as info:
        with producer(ENV["KAFKETTE_BOOTSTRAP_SSL"], **opts) as p:
            p.send_messages([kafkette.MessageToSend("py-sec-never", b"x")])
    assert isinstance(info.value, kafkette.CertificateVerificationError), repr(info.value)
    assert "unknown CA" in str(info.value)


# ---- sasl_oauth_token_provider --------------------------------------------------------------


class Provider:
    """Hands out unsecured tokens of valid_s seconds with their expiry; records each call's
    thread and token."""

    def __init__(self, valid_s=3600, error=None):
        self.valid_s, self.error = valid_s, error
        self.tokens, self.expiries, self.threads = [], [], []

    def __call__(self):
        self.threads.append(threading.get_ident())
        if self.error:
            raise self.error
        now = int(time.time())
        self.tokens.append(_unsecured_token(self.valid_s, now))
        self.expiries.append(now + self.valid_s)
        return self.tokens[-1], float(now + self.valid_s)


def oauth_options(provider):
    return {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "OAUTHBEARER",
            "sasl_oauth_token_provider": provider}


def _send(p, topic, value):
    assert p.send_messages([kafkette.MessageToSend(topic, value, partition=0)])


def test_oauth_provider_is_called_and_its_token_used():
    bootstrap = ENV["KAFKETTE_BOOTSTRAP_SASL_PLAINTEXT"]
    topic = "py-sec-oauth-" + uuid.uuid4().hex[:12]
    provider = Provider()
    with producer(bootstrap, **oauth_options(provider)) as p:
        assert provider.tokens == []  # not before a connection authenticates
        _send(p, topic, b"by provider")
        assert len(provider.tokens) == 1  # one token for every connection while it is fresh
    with consumer(bootstrap, topic, **oauth_options(provider)) as c:
        got = []
        for _ in range(50):
            got.extend(m.value for m in c.fetch())
            if got:
                break
    assert got == [b"by provider"]
    assert set(provider.threads) == {threading.get_ident()}
    # a plain function (no tuple: the expiry is unknown) works as well
    with producer(bootstrap, **oauth_options(lambda: _unsecured_token())) as p:
        _send(p, topic, b"by lambda")


def test_oauth_token_is_refreshed_before_it_expires():
    """Tokens of 8 s: the broker gives the session the token's lifetime, the connection
    re-authenticates before its end with a new token, and the producer still works after the
    first token expired."""
    bootstrap = ENV["KAFKETTE_BOOTSTRAP_SASL_PLAINTEXT"]
    topic = "py-sec-oauth-" + uuid.uuid4().hex[:12]
    provider = Provider(valid_s=8)
    with producer(bootstrap, **oauth_options(provider)) as p:
        _send(p, topic, b"first token")
        assert len(provider.tokens) == 1
        first_expiry = provider.expiries[0]
        time.sleep(max(0.0, first_expiry - 1.0 - time.time()))  # past 85% of the session
        _send(p, topic, b"refreshed")
        assert len(provider.tokens) == 2 and provider.tokens[1] != provider.tokens[0]
        time.sleep(max(0.0, first_expiry + 1.5 - time.time()))
        _send(p, topic, b"after the first token expired")
    assert set(provider.threads) == {threading.get_ident()}


def test_oauth_provider_exception_is_an_authentication_error():
    provider = Provider(error=RuntimeError("identity provider unreachable"))
    with pytest.raises(kafkette.Error) as info:
        with producer(ENV["KAFKETTE_BOOTSTRAP_SASL_PLAINTEXT"], **oauth_options(provider)) as p:
            p.send_messages([kafkette.MessageToSend("py-sec-never", b"x")])
    assert isinstance(info.value, kafkette.AuthenticationError), repr(info.value)
    assert "sasl_oauth_token_provider raised RuntimeError" in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert provider.threads  # it was called

    def wrong():
        return 42

    with pytest.raises(kafkette.AuthenticationError) as info:
        with producer(ENV["KAFKETTE_BOOTSTRAP_SASL_PLAINTEXT"], **oauth_options(wrong)) as p:
            p.send_messages([kafkette.MessageToSend("py-sec-never", b"x")])
    assert isinstance(info.value.__cause__, TypeError)


def test_oauth_token_is_never_shown(caplog):
    """An expired token: the broker refuses it, and it appears in no message, repr or log line."""
    provider = Provider(valid_s=-60)
    caplog.set_level(logging.DEBUG, logger="kafkette")
    with pytest.raises(kafkette.Error) as info:
        with producer(ENV["KAFKETTE_BOOTSTRAP_SASL_PLAINTEXT"], **oauth_options(provider)) as p:
            assert "eyJ" not in repr(p)
            p.send_messages([kafkette.MessageToSend("py-sec-never", b"x")])
    assert isinstance(info.value, kafkette.AuthenticationError), repr(info.value)
    token = provider.tokens[0]
    payload = token.split(".")[1]
    shown = [str(info.value), repr(info.value), str(info.value.__cause__), repr(info.value.__cause__),
             caplog.text]
    assert not any(payload in text for text in shown)

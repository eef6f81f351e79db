"""TLS and SASL through the Python binding, with the security options passed as plain keyword
arguments (the binding hands every option to the core's option table). Needs the secured broker
of `script/kafka start --security` (script/test.d/35-security starts one and runs this file).

Until the binding passes every keyword through the core's table, it rejects these options as
unknown: then every test here SKIPS with a loud message instead of failing.
"""
import os
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


def _unsecured_token(valid_s=3600):
    import base64
    import json
    import time

    def b64(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    now = int(time.time())
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
    assert "py-wrong-Pa55" not in str(info.value) and "py-wrong-Pa55" not in repr(info.value)


def test_unknown_ca_is_a_certificate_error():
    opts = options("SSL")
    opts["ssl_cafile"] = ENV["KAFKETTE_OTHER_CA_FILE"]
    with pytest.raises(kafkette.Error) as info:
        with producer(ENV["KAFKETTE_BOOTSTRAP_SSL"], **opts) as p:
            p.send_messages([kafkette.MessageToSend("py-sec-never", b"x")])
    assert isinstance(info.value, kafkette.CertificateVerificationError), repr(info.value)
    assert "unknown CA" in str(info.value)

# frozen_string_literal: true

# TLS and SASL through the Ruby binding, with the security options passed as plain keyword
# options (the binding hands every option to the core's option table). Needs the secured broker
# of `script/kafka start --security` (script/test.d/35-security starts one and runs this file).
#
# Until the binding passes every option through the core's table, it rejects these options as
# unknown: then every test here SKIPS with a loud message instead of failing.
require_relative "test_helper"
require "base64"
require "json"

module SecurityEnv
  module_function

  def values
    @values ||= begin
      v = ENV.to_h
      dir = ENV.fetch("KAFKETTE_KAFKA_DIR", nil)
      if dir && File.exist?(File.join(dir, "env"))
        File.readlines(File.join(dir, "env"), chomp: true).each do |line|
          key, value = line.split("=", 2)
          v[key] ||= value if value
        end
      end
      v
    end
  end

  def token(valid_s = 3600)
    b64 = ->(obj) { Base64.urlsafe_encode64(JSON.generate(obj), padding: false) }
    now = Time.now.to_i
    "#{b64.call({ alg: 'none' })}.#{b64.call({ sub: 'kafkette', iat: now, exp: now + valid_s })}."
  end
end

class TestSecurity < Minitest::Test
  ENVV = SecurityEnv.values

  def setup
    skip "no secured broker (script/kafka start --security; see 35-security)" unless ENVV["KAFKETTE_BOOTSTRAP_SASL_SSL"]
  end

  def options(protocol, mechanism = nil, password: ENVV["KAFKETTE_SASL_PASSWORD"])
    opts = { security_protocol: protocol, ssl_cafile: ENVV["KAFKETTE_CA_FILE"] }
    if mechanism == "OAUTHBEARER"
      opts.merge(sasl_mechanism: mechanism, sasl_oauth_token: SecurityEnv.token)
    elsif mechanism
      opts.merge(sasl_mechanism: mechanism, sasl_username: ENVV["KAFKETTE_SASL_USERNAME"], sasl_password: password)
    else
      opts
    end
  end

  def producer(bootstrap, **opts)
    Kafkette::Producer.new(bootstrap.split(","), "rb-security", **opts)
  end

  def consumer(bootstrap, topic, **opts)
    host, port = bootstrap.split(",").first.split(":")
    Kafkette::PartitionConsumer.new("rb-security", host, Integer(port, 10), topic, 0, :earliest_offset,
                                    max_wait_ms: 100, **opts)
  end

  CASES = [
    ["KAFKETTE_BOOTSTRAP_SSL", "SSL", nil],
    %w[KAFKETTE_BOOTSTRAP_SASL_PLAINTEXT SASL_PLAINTEXT PLAIN],
    %w[KAFKETTE_BOOTSTRAP_SASL_PLAINTEXT SASL_PLAINTEXT SCRAM-SHA-256],
    %w[KAFKETTE_BOOTSTRAP_SASL_SSL SASL_SSL SCRAM-SHA-512],
    %w[KAFKETTE_BOOTSTRAP_SASL_SSL SASL_SSL OAUTHBEARER]
  ].freeze

  CASES.each do |listener, protocol, mechanism|
    define_method("test_round_trip_#{protocol.downcase}_#{(mechanism || 'tls').downcase.tr('-', '_')}") do
      bootstrap = ENVV.fetch(listener)
      topic = "rb-sec-#{SecureRandom.hex(6)}"
      opts = options(protocol, mechanism)
      values = (0...20).map { |i| "secured-#{i}" }
      p = producer(bootstrap, **opts)
      assert p.send_messages(values.map { |v| Kafkette::MessageToSend.new(topic, v, partition: 0) })
      p.close
      c = consumer(bootstrap, topic, **opts)
      got = []
      50.times do
        got.concat(c.fetch.map(&:value))
        break if got.size >= values.size
      end
      c.close
      assert_equal values, got
    end
  end

  def test_wrong_password_is_an_authentication_error_without_the_password
    error = assert_raises(Kafkette::Error) do
      p = producer(ENVV["KAFKETTE_BOOTSTRAP_SASL_SSL"], **options("SASL_SSL", "SCRAM-SHA-512", password: "rb-wrong-Pa55"))
      p.send_messages([Kafkette::MessageToSend.new("rb-sec-never", "x")])
    end
    assert_kind_of Kafkette::Errors::AuthenticationError, error
    refute_includes error.message, "rb-wrong-Pa55"
    refute_includes error.inspect, "rb-wrong-Pa55"
  end

  def test_unknown_ca_is_a_certificate_error
    opts = options("SSL").merge(ssl_cafile: ENVV["KAFKETTE_OTHER_CA_FILE"])
    error = assert_raises(Kafkette::Error) do
      p = producer(ENVV["KAFKETTE_BOOTSTRAP_SSL"], **opts)
      p.send_messages([Kafkette::MessageToSend.new("rb-sec-never", "x")])
    end
    expected = Kafkette::Errors::CertificateVerificationError
    assert_kind_of expected, error
    assert_includes error.message, "unknown CA"
  end
end

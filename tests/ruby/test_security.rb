# frozen_string_literal: true

# TLS and SASL through the Ruby binding, with the security options passed as plain keyword
# options (the binding hands every option to the core's option table). Needs the secured broker
# of `script/kafka start --security` (script/test.d/35-security starts one and runs this file).
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

  def token(valid_s = 3600, now = Time.now.to_i)
    b64 = ->(obj) { Base64.urlsafe_encode64(JSON.generate(obj), padding: false) }
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

  # ---- sasl_oauth_token_provider ------------------------------------------------------------

  # Hands out unsecured tokens of valid_s seconds with their expiry; records each call's thread.
  class Provider
    attr_reader :tokens, :expiries, :threads

    def initialize(valid_s = 3600, error: nil)
      @valid_s = valid_s
      @error = error
      @tokens = []
      @expiries = []
      @threads = []
    end

    def call
      @threads << Thread.current
      raise @error if @error

      now = Time.now.to_i
      @tokens << SecurityEnv.token(@valid_s, now)
      @expiries << (now + @valid_s)
      [@tokens.last, Time.at(now + @valid_s)]
    end
  end

  def oauth(provider)
    { security_protocol: "SASL_PLAINTEXT", sasl_mechanism: "OAUTHBEARER", sasl_oauth_token_provider: provider }
  end

  def send_one(producer, topic, value)
    assert producer.send_messages([Kafkette::MessageToSend.new(topic, value, partition: 0)])
  end

  def test_oauth_provider_is_called_and_its_token_used
    bootstrap = ENVV.fetch("KAFKETTE_BOOTSTRAP_SASL_PLAINTEXT")
    topic = "rb-sec-oauth-#{SecureRandom.hex(6)}"
    provider = Provider.new
    p = producer(bootstrap, **oauth(provider))
    assert_empty provider.tokens # not before a connection authenticates
    send_one(p, topic, "by provider")
    assert_equal 1, provider.tokens.size # one token for every connection while it is fresh
    p.close
    c = consumer(bootstrap, topic, **oauth(provider))
    got = []
    50.times do
      got.concat(c.fetch.map(&:value))
      break unless got.empty?
    end
    c.close
    assert_equal ["by provider"], got
    assert_equal [Thread.current], provider.threads.uniq
    # a lambda returning only a token (its expiry unknown) works as well
    p = producer(bootstrap, **oauth(-> { SecurityEnv.token }))
    send_one(p, topic, "by lambda")
    p.close
  end

  # Tokens of 8 s: the broker gives the session the token's lifetime, the connection
  # re-authenticates before its end with a new token, and the producer still works after the
  # first token expired.
  def test_oauth_token_is_refreshed_before_it_expires
    bootstrap = ENVV.fetch("KAFKETTE_BOOTSTRAP_SASL_PLAINTEXT")
    topic = "rb-sec-oauth-#{SecureRandom.hex(6)}"
    provider = Provider.new(8)
    p = producer(bootstrap, **oauth(provider))
    send_one(p, topic, "first token")
    assert_equal 1, provider.tokens.size
    first_expiry = provider.expiries.first
    sleep([first_expiry - 1.0 - Time.now.to_f, 0].max) # past 85% of the session
    send_one(p, topic, "refreshed")
    assert_equal 2, provider.tokens.size
    refute_equal provider.tokens[0], provider.tokens[1]
    sleep([first_expiry + 1.5 - Time.now.to_f, 0].max)
    send_one(p, topic, "after the first token expired")
    p.close
    assert_equal [Thread.current], provider.threads.uniq
  end

  def test_oauth_provider_exception_is_an_authentication_error
    provider = Provider.new(error: RuntimeError.new("identity provider unreachable"))
    error = assert_raises(Kafkette::Errors::AuthenticationError) do
      p = producer(ENVV["KAFKETTE_BOOTSTRAP_SASL_PLAINTEXT"], **oauth(provider))
      p.send_messages([Kafkette::MessageToSend.new("rb-sec-never", "x")])
    end
    assert_includes error.message, "sasl_oauth_token_provider raised RuntimeError"
    assert_kind_of RuntimeError, error.cause
    refute_empty provider.threads
    error = assert_raises(Kafkette::Errors::AuthenticationError) do
      p = producer(ENVV["KAFKETTE_BOOTSTRAP_SASL_PLAINTEXT"], **oauth(-> { 42 }))
      p.send_messages([Kafkette::MessageToSend.new("rb-sec-never", "x")])
    end
    assert_kind_of TypeError, error.cause
  end

  # An expired token: the broker refuses it, and it appears in no message, inspect or log line.
  def test_oauth_token_is_never_shown
    provider = Provider.new(-60)
    log = StringIO.new
    logger = Kafkette.logger
    Kafkette.logger = Logger.new(log, level: Logger::DEBUG)
    error = assert_raises(Kafkette::Error) do
      p = producer(ENVV["KAFKETTE_BOOTSTRAP_SASL_PLAINTEXT"], **oauth(provider))
      refute_includes p.inspect, "eyJ"
      p.send_messages([Kafkette::MessageToSend.new("rb-sec-never", "x")])
    end
    assert_kind_of Kafkette::Errors::AuthenticationError, error
    payload = provider.tokens.first.split(".")[1]
    [error.message, error.inspect, log.string].each { |text| refute_includes text, payload }
  ensure
    Kafkette.logger = logger if logger
  end
end

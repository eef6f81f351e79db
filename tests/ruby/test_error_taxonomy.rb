# frozen_string_literal: true

require "test_helper"

# The exception tree is the core's (docs/BINDINGS.md, "Errors"): every code the core knows, and
# codes it does not, raise the class the core names, under the parent the core names, with
# the core's aliases; and a bad option raises InvalidArgumentError with the core's message.
class TestErrorTaxonomy < Minitest::Test
  include KafketteTest

  E = Kafkette::Errors
  N = Kafkette::Native

  def codes
    N.error_codes + [0, 9999, 32_767, -2, -99, -9999, -(2**31)]
  end

  def test_every_code_raises_the_class_the_core_names
    assert_operator N.error_codes.size, :>, 120
    codes.each do |code|
      name, parent, poseidon = N.error_class(code)
      err = E.build(code, "m")
      assert_equal name, err.class.name.split("::").last, "code #{code}" unless err.instance_of?(Kafkette::Error)
      assert_same E.const_get(name, false), err.class, "code #{code}"
      assert_equal code, err.code
      assert_equal "m", err.message
      assert_equal N.retriable?(code), err.retriable?, "code #{code}"
      if parent
        assert_same E.const_get(parent, false), err.class.superclass, "code #{code}"
      else
        assert_same Kafkette::Error, err.class, "code #{code} raises the root"
      end
      assert_same err.class, E.const_get(poseidon, false), "code #{code}" if poseidon
    end
  end

  def test_two_codes_share_a_class_exactly_when_the_core_says_so
    by_class = codes.group_by { |code| E.build(code, "m").class }
    by_name = codes.group_by { |code| N.error_class(code).first }
    assert_equal by_name.values.sort, by_class.values.sort
    assert_equal by_name.size, by_class.size
  end

  def test_the_named_classes_parents_and_aliases
    classes = N.error_classes
    assert_equal ["Error", nil], classes.first.first(2)
    assert_same Kafkette::Error, E::Error
    classes.each do |name, parent, aliaz, _doc|
      klass = E.const_get(name, false)
      assert_same E.const_get(parent, false), klass.superclass, name if parent
      assert_same klass, E.const_get(aliaz, false), name if aliaz
      assert_operator klass, :<=, StandardError
    end
    # exactly the core's aliases: the old Ruby names are gone
    assert_same E::TimedOutError, E::KafkaTimeoutError
    refute E.const_defined?(:TimeoutError, false)
    refute E.const_defined?(:InterruptedError, false)
    assert_same E::NotLeaderOrFollower, E::NotLeaderForPartition
  end

  def test_a_bad_option_raises_the_cores_message
    {
      { compression_codec: :brotli } =>
        "option 'compression_codec' takes one of 'none', 'gzip', 'snappy', 'lz4', 'zstd', not 'brotli'",
      { "compression_codec" => "brotli" } =>
        "option 'compression_codec' takes one of 'none', 'gzip', 'snappy', 'lz4', 'zstd', not 'brotli'",
      { compresion_codec: :gzip } => "unknown option 'compresion_codec' for a producer (did you mean 'compression_codec'?)",
      { type: :fast } => "option 'type' takes one of 'sync', 'async', not 'fast'",
      { required_acks: { a: 1 } } => "option 'required_acks' takes an integer from -1 to 1 or 'all', not a Hash holding a Symbol"
    }.each do |options, message|
      err = assert_raises(E::InvalidArgumentError, options.inspect) { Kafkette::Producer.new(BROKERS, "id", options) }
      assert_equal message, err.message
      assert_equal N::ERR_INVALID_ARG, err.code
      assert_kind_of Kafkette::Error, err
    end
    c = Kafkette::PartitionConsumer.new("id", BROKER_HOST, BROKER_PORT, "t", 0, 0)
    err = assert_raises(E::InvalidArgumentError) { c.fetch(max_bytes: 1.5) }
    assert_equal "option 'max_bytes' takes an integer from 1 to 2147483647, not a Float", err.message
    err = assert_raises(E::InvalidArgumentError) do
      Kafkette::PartitionConsumer.new("id", BROKER_HOST, BROKER_PORT, "t", 0, 0, max_bytes: 1.5)
    end
    assert_equal "option 'max_bytes' takes an integer from 1 to 2147483647, not a Float", err.message
    c.close
  end
end

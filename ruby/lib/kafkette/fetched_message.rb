# frozen_string_literal: true

module Kafkette
  # A message a PartitionConsumer fetched. #key and #value are BINARY Strings (or nil);
  # #timestamp is milliseconds since the epoch (nil when the record carries none); #headers is
  # a Hash of UTF-8 names to BINARY values (or nil values), frozen and empty when there are none.
  #
  # Implemented in the extension (the messages of one fetch share one allocation): #topic,
  # #partition, #offset, #key, #value, #timestamp, #headers, and
  # new(topic, value, key, offset, partition: nil, timestamp: nil, headers: nil) in Poseidon's
  # argument order for code that builds its own.
  class FetchedMessage
    # #timestamp as a Time (nil when there is none).
    def time
      ts = timestamp
      ts && Time.at(ts / 1000, (ts % 1000) * 1000)
    end

    def ==(other)
      other.is_a?(FetchedMessage) && topic == other.topic && partition == other.partition &&
        offset == other.offset && key == other.key && value == other.value
    end
    alias eql? ==

    def hash
      [topic, partition, offset].hash
    end

    def inspect
      v = value
      "#<#{self.class.name} #{topic}[#{partition}]@#{offset} key=#{key.inspect} " \
        "value=#{v && v.bytesize > 40 ? "(#{v.bytesize} bytes)" : v.inspect}>"
    end
  end
end

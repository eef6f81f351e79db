# frozen_string_literal: true

module Kafkette
  # A message to send: a topic, a value (String or nil), an optional key, and optionally a
  # partition, headers (String => String/nil) and a timestamp (a Time or milliseconds since the
  # epoch; default: the time of the send).
  #
  #     Kafkette::MessageToSend.new("events", "payload", "user-42", headers: {"trace" => "abc"})
  #
  # After Producer#send_messages, #partition and #offset tell where it went (#offset is nil with
  # required_acks 0, where the broker does not say), #delivered? whether it arrived, and
  # #error_code / #error why not.
  #
  # Implemented in the extension (a C struct, so a send of many messages reads them fast):
  # new(topic, value, key = nil, partition: nil, headers: nil, timestamp: nil), #topic, #value,
  # #key, #headers, #timestamp, #partition, #requested_partition, #offset, #error_code,
  # #delivered?.
  class MessageToSend
    # Why the last send did not deliver it (an exception object, not raised), or nil.
    def error
      code = error_code
      return nil if code.nil?

      Errors.build(code, "#{Native.error_name(code)}: #{Native.error_description(code)}")
    end

    def inspect
      v = value
      preview = v && v.bytesize > 40 ? "(#{v.bytesize} bytes)" : v.inspect
      "#<#{self.class.name} topic=#{topic.inspect} key=#{key.inspect} value=#{preview} " \
        "partition=#{partition.inspect} offset=#{offset.inspect}>"
    end
  end
end

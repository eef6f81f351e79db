# frozen_string_literal: true

module Kafkette
  # A bare connection to the cluster, for topic administration and metadata.
  #
  #     client = Kafkette::Client.new(["localhost:9092"])
  #     client.create_topic("events", partitions: 6)
  #     client.partition_count("events")  # => 6
  #
  # Options: the "Every object" table of docs/CONFIGURATION.md, checked by the core.
  class Client
    attr_reader :brokers, :client_id

    def initialize(brokers, client_id = "kafkette", options = {})
      raise TypeError, "options must be a Hash, not #{options.class}" unless options.is_a?(Hash)

      @brokers = brokers
      @client_id = client_id
      _setup(brokers, client_id, options)
    end

    # Creates a topic and waits until every partition has a leader. -1 means the broker's
    # default. Raises Errors::TopicAlreadyExists when it exists.
    def create_topic(name, partitions: -1, replication_factor: -1, configs: {}, timeout_ms: 30_000)
      Kafkette.check_string(name, "topic")
      pairs = configs.map { |k, v| [k.to_s, v.to_s] }
      _create_topic(name, partitions, replication_factor, pairs, timeout_ms)
      nil
    end

    # Deletes a topic. Raises Errors::UnknownTopicOrPartition when there is none.
    def delete_topic(name, timeout_ms: 30_000)
      _delete_topic(name, timeout_ms)
      nil
    end

    # Deletes a partition's records before `before_offset` (-1: all); returns the new log start.
    def delete_records(topic, partition, before_offset, timeout_ms: 30_000)
      _delete_records(topic, partition, before_offset, timeout_ms)
    end

    # The number of partitions of a topic (raises Errors::UnknownTopicOrPartition when absent).
    def partition_count(topic)
      partition_counts([topic]).fetch(topic)
    end

    # {topic => partition count} for topics that exist; raises for the first that does not.
    def partition_counts(topics)
      _partition_counts(topics.to_a).to_h do |topic, (code, count)|
        raise Errors.build(code, "topic #{topic}: #{Native.error_name(code)}") unless code.zero?

        [topic, count]
      end
    end
  end
end

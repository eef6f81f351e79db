// Prints what the Java client's own assignors and ConsumerProtocol produce, for the C tests
// in tests/unit/test_assignor.c (which hard-code this program's output). Run:
//   J=~/.m2/repository/org/apache/kafka/kafka-clients/4.4.0/kafka-clients-4.4.0.jar
//   S=~/.m2/repository/org/slf4j/slf4j-api/1.7.36/slf4j-api-1.7.36.jar
//   javac -cp $J -d /tmp/av tests/unit/vectors/AssignorVectors.java
//   java -cp /tmp/av:$J:$S AssignorVectors
import java.nio.ByteBuffer;
import java.util.*;

import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor;
import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor.Assignment;
import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor.GroupSubscription;
import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor.Subscription;
import org.apache.kafka.clients.consumer.RangeAssignor;
import org.apache.kafka.clients.consumer.RoundRobinAssignor;
import org.apache.kafka.clients.consumer.internals.ConsumerProtocol;
import org.apache.kafka.common.Cluster;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;

public class AssignorVectors {
    static final Node NODE = new Node(1, "localhost", 9092);

    static Cluster cluster(Map<String, Integer> topics) {
        List<PartitionInfo> parts = new ArrayList<>();
        for (Map.Entry<String, Integer> e : topics.entrySet())
            for (int p = 0; p < e.getValue(); p++)
                parts.add(new PartitionInfo(e.getKey(), p, NODE, new Node[] {NODE}, new Node[] {NODE}));
        return new Cluster("c", List.of(NODE), parts, Set.of(), Set.of());
    }

    /* member spec: "id[/instance]:topic,topic" */
    static void run(String title, ConsumerPartitionAssignor assignor, Map<String, Integer> topics,
                    String... members) {
        Map<String, Subscription> subs = new LinkedHashMap<>();
        for (String spec : members) {
            String[] idTopics = spec.split(":");
            String[] idInst = idTopics[0].split("/");
            Subscription s = new Subscription(Arrays.asList(idTopics[1].split(",")));
            if (idInst.length > 1)
                s.setGroupInstanceId(Optional.of(idInst[1]));
            subs.put(idInst[0], s);
        }
        Map<String, Assignment> result =
            assignor.assign(cluster(topics), new GroupSubscription(subs)).groupAssignment();
        System.out.println("== " + assignor.name() + ": " + title);
        for (String id : subs.keySet()) {
            List<String> tps = new ArrayList<>();
            for (TopicPartition tp : result.get(id).partitions())
                tps.add(tp.topic() + "-" + tp.partition());
            Collections.sort(tps);
            System.out.println("  " + id + " -> " + String.join(" ", tps));
        }
    }

    static String hex(ByteBuffer b) {
        StringBuilder sb = new StringBuilder();
        ByteBuffer d = b.duplicate();
        while (d.hasRemaining())
            sb.append(String.format("%02x", d.get() & 0xff));
        return sb.toString();
    }

    public static void main(String[] args) {
        Map<String, Integer> t53 = new TreeMap<>(Map.of("t5", 5, "t3", 3));
        run("2 members x (t5, t3)", new RangeAssignor(), t53, "m1:t5,t3", "m2:t5,t3");
        run("3 members x (t5, t3)", new RoundRobinAssignor(), t53, "m1:t5,t3", "m2:t5,t3", "m3:t5,t3");

        Map<String, Integer> t537 = new TreeMap<>(Map.of("t5", 5, "t3", 3, "t7", 7));
        run("uneven subscriptions, one topic missing", new RangeAssignor(), t537,
            "c:t3,t7,missing", "a:t5,t3", "b:t5");
        run("uneven subscriptions, one topic missing", new RoundRobinAssignor(), t537,
            "c:t3,t7,missing", "a:t5,t3", "b:t5");
        run("instance ids sort first", new RangeAssignor(), t53,
            "a:t5,t3", "z/i2:t5,t3", "y/i1:t5,t3");
        run("instance ids sort first", new RoundRobinAssignor(), t53,
            "a:t5,t3", "z/i2:t5,t3", "y/i1:t5,t3");
        run("more members than partitions", new RangeAssignor(), t53,
            "m1:t3", "m2:t3", "m3:t3", "m4:t3");

        List<String> topics = List.of("b", "a");
        List<TopicPartition> owned = List.of(new TopicPartition("a", 2), new TopicPartition("a", 0));
        for (short v = 0; v <= 3; v++) {
            Subscription s = new Subscription(topics, null, owned, 7, Optional.of("r1"));
            System.out.println("subscription v" + v + " " + hex(ConsumerProtocol.serializeSubscription(s, v)));
        }
        for (short v = 0; v <= 3; v++) {
            Assignment a = new Assignment(List.of(new TopicPartition("a", 1), new TopicPartition("a", 4)));
            System.out.println("assignment v" + v + " " + hex(ConsumerProtocol.serializeAssignment(a, v)));
        }
    }
}

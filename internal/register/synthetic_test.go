package register_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/register"
	"github.com/election/election/internal/stream"
	"github.com/election/election/internal/synth"
	"github.com/election/election/internal/testenv"
)

// syntheticSetup is a fresh SQLite ledger with the seed election, its generator, and a publisher on brokers.
func syntheticSetup(t *testing.T, brokers []string) (*ledger.Store, *synth.Generator, stream.Config, *register.Publisher) {
	t.Helper()
	ctx := testenv.Context(t)
	s, err := ledger.Open(ctx, ledger.Config{SQLitePath: t.TempDir() + "/ledger.db", Logger: testenv.Logger(t)})
	testenv.Must(t, err, "open ledger")
	t.Cleanup(s.Close)
	e, _ := election.Preset("seed")
	testenv.Must(t, s.RegisterElection(ctx, e), "register election")
	secret, err := s.SimulationSecret(ctx)
	testenv.Must(t, err, "secret")
	cfg := stream.Config{Brokers: brokers, Prefix: testenv.Namespace(), Partitions: 2, Logger: testenv.Logger(t)}
	testenv.Must(t, stream.EnsureTopics(ctx, cfg), "topics")
	pub, err := register.NewPublisher(cfg)
	testenv.Must(t, err, "publisher")
	t.Cleanup(pub.Close)
	return s, synth.NewGenerator(election.NewIndex(e), secret), cfg, pub
}

// onTopic is the set of voter ids voters_topic holds (its record keys), read up to the end offsets the
// broker gives when it is called: callers call it once every record has been acknowledged or refused.
func onTopic(t *testing.T, cfg stream.Config) map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(testenv.Context(t), time.Minute)
	defer cancel()
	topic := cfg.Topics().Voters.Name
	cl, err := kgo.NewClient(cfg.ClientOpts(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	testenv.Must(t, err, "consumer")
	defer cl.Close()
	listed, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = listed.Error()
	}
	testenv.Must(t, err, "end offsets of %s", topic)
	left := map[int32]int64{} // partition -> its end offset, while records before it are still to read
	listed.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	keys := map[string]bool{}
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %s: %v; partitions not read to their end: %v", topic, err, left)
		}
		fs.EachRecord(func(r *kgo.Record) {
			keys[string(r.Key)] = true
			if end, ok := left[r.Partition]; ok && r.Offset+1 >= end {
				delete(left, r.Partition)
			}
		})
	}
	return keys
}

// Every voter the ledger registers is on voters_topic: the ledger commits a batch only once Kafka has
// acknowledged all of it, even though batches are published without waiting for each other.
func TestSyntheticPublishesEveryRegisteredVoter(t *testing.T) {
	t.Parallel()
	testenv.EachBroker(t, func(t *testing.T, brokers []string) {
		s, g, cfg, pub := syntheticSetup(t, brokers)
		const total = 12_345
		err := register.Synthetic(testenv.Context(t), register.SyntheticConfig{Store: s, Generator: g, Total: total, Batch: 1000,
			Publisher: pub, Logger: testenv.Logger(t)})
		testenv.Must(t, err, "register")
		n, err := s.SyntheticRegistered(testenv.Context(t))
		testenv.Must(t, err, "registered")
		keys := onTopic(t, cfg)
		if n != total || len(keys) != total {
			t.Fatalf("ledger holds %d voters, voters_topic %d distinct; want %d each", n, len(keys), total)
		}
		for i := range int64(total) {
			if id := g.Voter(i).ID; !keys[id] {
				t.Fatalf("voter %s is registered but not on voters_topic", id)
			}
		}
	})
}

// When Kafka refuses a batch, registration stops with the error, and the ledger holds no voter that is not
// on voters_topic: the commit waits for the acknowledgement of its whole batch. The broker accepts the
// first few produce requests and refuses every one after them.
func TestSyntheticCommitsNothingKafkaRefused(t *testing.T) {
	t.Parallel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	testenv.Must(t, err, "kfake")
	defer c.Close()
	var produced atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if produced.Add(1) <= 3 {
			return nil, nil, false // handled by the broker as usual
		}
		req := kreq.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.InvalidRecord.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	s, g, cfg, pub := syntheticSetup(t, c.ListenAddrs())
	const total = 50_000
	err = register.Synthetic(testenv.Context(t), register.SyntheticConfig{Store: s, Generator: g, Total: total, Batch: 1000,
		Publisher: pub, Logger: testenv.Logger(t)})
	if err == nil {
		t.Fatal("registration succeeded although Kafka refused the records")
	}
	n, err2 := s.SyntheticRegistered(testenv.Context(t))
	testenv.Must(t, err2, "registered")
	if n >= total {
		t.Fatalf("the ledger registered all %d voters although Kafka refused some (%v)", n, err)
	}
	keys := onTopic(t, cfg)
	for i := range n {
		if id := g.Voter(i).ID; !keys[id] {
			t.Fatalf("voter %s (of the %d the ledger registered) is not on voters_topic; registration said: %v", id, n, err)
		}
	}
	t.Logf("registered %d voters, %d on voters_topic, then: %v", n, len(keys), err)
}

// One test per rule of the Raft paper (Ongaro & Ousterhout, "In Search of an Understandable
// Consensus Algorithm", Figure 2 and §5). Pre-vote and check-quorum are off here so each rule
// is seen alone; raft_features_test.cc covers the extensions.
#include <gtest/gtest.h>

#include <set>

#include "raft/raft.h"
#include "raft/raft_test_util.h"

namespace rkv::raft {
namespace {

using testing::Cluster;
using testing::drain;
using testing::log_with_terms;
using testing::make_entries;
using testing::make_msg;
using testing::only;
using testing::paper_config;

struct Node {
  explicit Node(NodeId id, std::vector<NodeId> voters = {1, 2, 3}, PersistentState ps = {},
                uint64_t seed = 7)
      : random(seed), raft(paper_config(id, std::move(voters)), random, std::move(ps)) {}
  Random random;
  Raft raft;
};

// Ticks until the node campaigns (role changes) and returns the messages it sent.
std::vector<Message> tick_until_campaign(Raft& r) {
  const Role before = r.role();
  for (int i = 0; i < 2 * r.config().election_tick + 1; ++i) {
    r.tick();
    if (r.role() != before) break;
  }
  return drain(r);
}

// Makes node `r` (id 1 of {1,2,3}) leader by answering its vote requests.
void make_leader(Raft& r) {
  tick_until_campaign(r);
  for (NodeId v : {2, 3}) {
    Message m = make_msg(MessageType::kVoteResp, v, r.id(), r.term());
    ASSERT_TRUE(r.step(m).is_ok());
  }
  ASSERT_EQ(r.role(), Role::kLeader);
}

Message app(NodeId from, NodeId to, uint64_t term, uint64_t prev, uint64_t prev_term,
            std::vector<Entry> entries, uint64_t commit) {
  Message m = make_msg(MessageType::kApp, from, to, term);
  m.index = prev;
  m.log_term = prev_term;
  m.entries = std::move(entries);
  m.commit = commit;
  return m;
}

Message vote(NodeId from, NodeId to, uint64_t term, uint64_t last_index, uint64_t last_term) {
  Message m = make_msg(MessageType::kVote, from, to, term);
  m.index = last_index;
  m.log_term = last_term;
  return m;
}

// ---- §5.1: terms ------------------------------------------------------------------------------

// "If RPC request or response contains term T > currentTerm: set currentTerm = T, convert to
// follower" — for every role.
TEST(RaftPaper, AnyRoleAdoptsHigherTermAndBecomesFollower) {
  for (Role start : {Role::kFollower, Role::kCandidate, Role::kLeader}) {
    Node n(1);
    if (start == Role::kCandidate) tick_until_campaign(n.raft);
    if (start == Role::kLeader) make_leader(n.raft);
    ASSERT_EQ(n.raft.role(), start);
    ASSERT_TRUE(n.raft.step(app(2, 1, 10, 0, 0, {}, 0)).is_ok());
    EXPECT_EQ(n.raft.term(), 10u);
    EXPECT_EQ(n.raft.role(), Role::kFollower);
    EXPECT_EQ(n.raft.leader(), 2u);
  }
}

// "If a server receives a request with a stale term number, it rejects the request."
TEST(RaftPaper, StaleTermRequestIsIgnored) {
  Node n(1, {1, 2, 3}, log_with_terms({1, 2}, 3));
  ASSERT_TRUE(n.raft.step(app(2, 1, 2, 2, 2, make_entries(3, {2}), 3)).is_ok());
  EXPECT_EQ(n.raft.last_index(), 2u);
  EXPECT_EQ(n.raft.term(), 3u);
  EXPECT_EQ(n.raft.commit(), 0u);
  ASSERT_TRUE(n.raft.step(vote(2, 1, 2, 10, 2)).is_ok());
  EXPECT_TRUE(only(drain(n.raft), MessageType::kVoteResp).empty());
}

// ---- §5.2: leader election --------------------------------------------------------------------

// "If election timeout elapses without receiving AppendEntries RPC from current leader or
// granting vote to candidate: convert to candidate" — increment term, vote for self, send
// RequestVote to all other servers.
TEST(RaftPaper, FollowerStartsElectionAfterTimeout) {
  Node n(1, {1, 2, 3}, log_with_terms({1, 1}, 1));
  auto msgs = tick_until_campaign(n.raft);
  EXPECT_EQ(n.raft.role(), Role::kCandidate);
  EXPECT_EQ(n.raft.term(), 2u);
  EXPECT_EQ(n.raft.vote(), 1u);
  auto votes = only(msgs, MessageType::kVote);
  ASSERT_EQ(votes.size(), 2u);
  std::set<NodeId> to;
  for (const auto& m : votes) {
    to.insert(m.to);
    EXPECT_EQ(m.term, 2u);
    EXPECT_EQ(m.index, 2u);
    EXPECT_EQ(m.log_term, 1u);
  }
  EXPECT_EQ(to, (std::set<NodeId>{2, 3}));
}

// "Raft uses randomized election timeouts ... chosen randomly from a fixed interval."
TEST(RaftPaper, ElectionTimeoutIsRandomizedWithinOneToTwoTimeouts) {
  std::set<int> seen;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    Node n(1, {1, 2, 3}, {}, seed);
    int ticks = 0;
    while (n.raft.role() == Role::kFollower) {
      n.raft.tick();
      ++ticks;
    }
    EXPECT_GE(ticks, n.raft.config().election_tick);
    EXPECT_LT(ticks, 2 * n.raft.config().election_tick);
    seen.insert(ticks);
  }
  EXPECT_GT(seen.size(), 5u);
}

// "A candidate wins an election if it receives votes from a majority of the servers."
TEST(RaftPaper, CandidateWinsWithMajority) {
  Node n(1, {1, 2, 3, 4, 5});
  tick_until_campaign(n.raft);
  ASSERT_TRUE(n.raft.step(make_msg(MessageType::kVoteResp, 2, 1, n.raft.term())).is_ok());
  EXPECT_EQ(n.raft.role(), Role::kCandidate);  // 2 of 5
  ASSERT_TRUE(n.raft.step(make_msg(MessageType::kVoteResp, 3, 1, n.raft.term())).is_ok());
  EXPECT_EQ(n.raft.role(), Role::kLeader);  // 3 of 5
  EXPECT_EQ(n.raft.leader(), 1u);
}

TEST(RaftPaper, CandidateReturnsToFollowerWhenMajorityRejects) {
  Node n(1, {1, 2, 3});
  tick_until_campaign(n.raft);
  Message r = make_msg(MessageType::kVoteResp, 2, 1, n.raft.term());
  r.reject = true;
  ASSERT_TRUE(n.raft.step(r).is_ok());
  r.from = 3;
  ASSERT_TRUE(n.raft.step(r).is_ok());
  EXPECT_EQ(n.raft.role(), Role::kFollower);
}

// "If many followers become candidates at the same time, votes could be split ... each
// candidate will time out and start a new election by incrementing its term."
TEST(RaftPaper, SplitVoteLeadsToNewElectionInNextTerm) {
  Node n(1, {1, 2, 3, 4});
  tick_until_campaign(n.raft);
  const uint64_t t = n.raft.term();
  Message r = make_msg(MessageType::kVoteResp, 2, 1, t);
  ASSERT_TRUE(n.raft.step(r).is_ok());
  r.from = 3;
  r.reject = true;
  ASSERT_TRUE(n.raft.step(r).is_ok());
  EXPECT_EQ(n.raft.role(), Role::kCandidate);  // 2 granted, 1 rejected, 1 silent
  for (int i = 0; i < 2 * n.raft.config().election_tick && n.raft.term() == t; ++i)
    n.raft.tick();
  EXPECT_EQ(n.raft.term(), t + 1);
  EXPECT_EQ(n.raft.role(), Role::kCandidate);
}

// "Each server will vote for at most one candidate in a given term, on a first-come-first-served
// basis."
TEST(RaftPaper, VotesAtMostOncePerTerm) {
  Node n(1);
  ASSERT_TRUE(n.raft.step(vote(2, 1, 1, 0, 0)).is_ok());
  ASSERT_TRUE(n.raft.step(vote(3, 1, 1, 0, 0)).is_ok());
  ASSERT_TRUE(n.raft.step(vote(2, 1, 1, 0, 0)).is_ok());  // a retry gets the same answer
  auto resps = only(drain(n.raft), MessageType::kVoteResp);
  ASSERT_EQ(resps.size(), 3u);
  EXPECT_FALSE(resps[0].reject);
  EXPECT_TRUE(resps[1].reject);
  EXPECT_FALSE(resps[2].reject);
  EXPECT_EQ(n.raft.vote(), 2u);
}

// The vote must be durable before the grant leaves: the grant and the HardState recording it
// come out in the same Ready, whose contract is persist-then-send.
TEST(RaftPaper, VoteGrantIsEmittedWithThePersistedVote) {
  Node n(1);
  ASSERT_TRUE(n.raft.step(vote(2, 1, 5, 0, 0)).is_ok());
  Ready rd = n.raft.ready();
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->vote, 2u);
  EXPECT_EQ(rd.hard_state->term, 5u);
  ASSERT_EQ(only(rd.messages, MessageType::kVoteResp).size(), 1u);
  EXPECT_TRUE(rd.must_persist());
  n.raft.advance(rd);
}

// §5.4.1: "the voter denies its vote if its own log is more up-to-date than that of the
// candidate": compare last terms, then lengths.
TEST(RaftPaper, RejectsVoteIfCandidateLogIsNotUpToDate) {
  struct Case {
    uint64_t last_index, last_term;
    bool granted;
  };
  // Voter log: terms [1, 2, 2] (last index 3, last term 2).
  const Case cases[] = {
      {3, 1, false}, {4, 1, false}, {2, 2, false}, {3, 2, true},
      {4, 2, true},  {1, 3, true},  {3, 3, true},
  };
  for (const Case& c : cases) {
    Node n(1, {1, 2, 3}, log_with_terms({1, 2, 2}, 2));
    ASSERT_TRUE(n.raft.step(vote(2, 1, 3, c.last_index, c.last_term)).is_ok());
    auto resps = only(drain(n.raft), MessageType::kVoteResp);
    ASSERT_EQ(resps.size(), 1u);
    EXPECT_EQ(!resps[0].reject, c.granted) << c.last_index << "/" << c.last_term;
  }
}

// "While waiting for votes, a candidate may receive an AppendEntries RPC from another server
// claiming to be leader. If the leader's term is at least as large as the candidate's current
// term, the candidate ... returns to follower state."
TEST(RaftPaper, CandidateStepsDownOnAppendFromLeaderOfSameTerm) {
  Node n(1);
  tick_until_campaign(n.raft);
  const uint64_t t = n.raft.term();
  ASSERT_TRUE(n.raft.step(app(2, 1, t, 0, 0, {}, 0)).is_ok());
  EXPECT_EQ(n.raft.role(), Role::kFollower);
  EXPECT_EQ(n.raft.term(), t);
  EXPECT_EQ(n.raft.leader(), 2u);
}

// A follower that hears from the leader does not time out ("Leaders send periodic heartbeats
// ... to maintain their authority").
TEST(RaftPaper, HeartbeatsKeepFollowersFromCampaigning) {
  Node n(1);
  for (int i = 0; i < 100; ++i) {
    n.raft.tick();
    Message hb = make_msg(MessageType::kHeartbeat, 2, 1, 1);
    ASSERT_TRUE(n.raft.step(hb).is_ok());
    drain(n.raft);
  }
  EXPECT_EQ(n.raft.role(), Role::kFollower);
  EXPECT_EQ(n.raft.term(), 1u);
}

// ---- §5.3: log replication ----------------------------------------------------------------------

// "Upon election: send initial empty AppendEntries" — here the new leader's no-op (§8), which
// also lets entries of earlier terms commit.
TEST(RaftPaper, NewLeaderAppendsNoopAndReplicatesIt) {
  Node n(1, {1, 2, 3}, log_with_terms({1, 1}, 1));
  make_leader(n.raft);
  EXPECT_EQ(n.raft.last_index(), 3u);
  EXPECT_EQ(n.raft.log().at(3).type, EntryType::kNoop);
  EXPECT_EQ(n.raft.log().at(3).term, n.raft.term());
  auto apps = only(drain(n.raft), MessageType::kApp);
  ASSERT_EQ(apps.size(), 2u);
  for (const auto& m : apps) {
    EXPECT_EQ(m.index, 2u);
    EXPECT_EQ(m.log_term, 1u);
    ASSERT_EQ(m.entries.size(), 1u);
    EXPECT_EQ(m.entries[0].index, 3u);
  }
}

// "If command received from client: append entry to local log" and replicate it; an entry is
// committed once replicated on a majority, and only then handed to the state machine.
TEST(RaftPaper, LeaderCommitsEntryReplicatedOnMajority) {
  Node n(1, {1, 2, 3, 4, 5});
  tick_until_campaign(n.raft);
  for (NodeId v : {2, 3}) {
    ASSERT_TRUE(n.raft.step(make_msg(MessageType::kVoteResp, v, 1, n.raft.term())).is_ok());
  }
  drain(n.raft);
  auto idx = n.raft.propose("x");
  ASSERT_TRUE(idx.is_ok());
  EXPECT_EQ(*idx, 2u);
  drain(n.raft);
  Message ack = make_msg(MessageType::kAppResp, 2, 1, n.raft.term());
  ack.index = 2;
  ASSERT_TRUE(n.raft.step(ack).is_ok());
  EXPECT_EQ(n.raft.commit(), 0u);  // 2 of 5
  ack.from = 3;
  ASSERT_TRUE(n.raft.step(ack).is_ok());
  EXPECT_EQ(n.raft.commit(), 2u);  // 3 of 5
  Ready rd = n.raft.ready();
  ASSERT_EQ(rd.committed_entries.size(), 2u);
  EXPECT_EQ(rd.committed_entries[1].data, "x");
  n.raft.advance(rd);
  EXPECT_EQ(n.raft.applied(), 2u);
}

// The leader counts its own copy only once it is persisted (the Ready was advanced).
TEST(RaftPaper, LeaderCountsItselfOnlyAfterPersisting) {
  Node n(1);
  make_leader(n.raft);
  drain(n.raft);
  ASSERT_TRUE(n.raft.propose("x").is_ok());
  Ready rd = n.raft.ready();  // holds entry 2; not yet persisted
  Message ack = make_msg(MessageType::kAppResp, 2, 1, n.raft.term());
  ack.index = 2;
  ASSERT_TRUE(n.raft.step(ack).is_ok());
  // Follower 2 holds entry 2 but the leader has persisted only up to its no-op (entry 1).
  EXPECT_EQ(n.raft.commit(), 1u);
  n.raft.advance(rd);
  EXPECT_EQ(n.raft.commit(), 2u);
}

// While a Ready is being persisted, partial_ready() hands out only what needs nothing of that
// write: entries committed by a follower's acknowledgement, and the leader's appends of newer
// proposals. Nothing durable, no acknowledgement, and the in-flight entries stay uncounted.
TEST(RaftPaper, PartialReadyWhileAWriteIsInFlight) {
  Node n(1);
  make_leader(n.raft);
  drain(n.raft);
  ASSERT_TRUE(n.raft.propose("x").is_ok());  // entry 2
  Ready first = n.raft.ready();
  n.raft.advance(first);                     // entry 2 persisted on the leader
  ASSERT_TRUE(n.raft.propose("y").is_ok());  // entry 3
  Ready in_flight = n.raft.ready();          // holds entry 3, being persisted
  ASSERT_EQ(in_flight.entries.size(), 1u);
  EXPECT_FALSE(n.raft.has_partial_ready());

  Message ack = make_msg(MessageType::kAppResp, 2, 1, n.raft.term());
  ack.index = 2;
  ASSERT_TRUE(n.raft.step(ack).is_ok());
  EXPECT_EQ(n.raft.commit(), 2u);
  ASSERT_TRUE(n.raft.propose("z").is_ok());  // entry 4, proposed during the write
  ASSERT_TRUE(n.raft.has_partial_ready());
  Ready part = n.raft.partial_ready();
  EXPECT_FALSE(part.must_persist());
  EXPECT_TRUE(part.entries.empty());
  ASSERT_EQ(part.committed_entries.size(), 2u);  // the no-op and entry 2
  EXPECT_EQ(part.committed_entries.back().index, 2u);
  bool sent_entry_4 = false;
  for (const Message& m : part.messages) {
    EXPECT_EQ(m.type, MessageType::kApp);
    for (const Entry& e : m.entries)
      sent_entry_4 |= e.index == 4;
  }
  EXPECT_TRUE(sent_entry_4);  // followers get entry 4 before the leader's write of 3 ends
  n.raft.advance(part);
  EXPECT_EQ(n.raft.applied(), 2u);
  EXPECT_FALSE(n.raft.has_partial_ready());

  // Follower 2 holds 3 and 4, but the leader's copy of 3 is not durable yet: no majority.
  ack.index = 4;
  ASSERT_TRUE(n.raft.step(ack).is_ok());
  EXPECT_EQ(n.raft.commit(), 2u);
  n.raft.advance(in_flight);
  EXPECT_EQ(n.raft.commit(), 3u);  // the leader's durable copy of 3 makes a majority
  Ready next = n.raft.ready();
  ASSERT_EQ(next.entries.size(), 1u);
  EXPECT_EQ(next.entries[0].index, 4u);
  ASSERT_EQ(next.committed_entries.size(), 1u);  // entry 3; entry 2 was handed out already
  EXPECT_EQ(next.committed_entries[0].index, 3u);
}

// A follower's partial Ready never carries its acknowledgement: that waits for the write.
TEST(RaftPaper, FollowerPartialReadyHoldsNoAcknowledgement) {
  Node n(2);
  ASSERT_TRUE(n.raft.step(app(1, 2, 1, 0, 0, make_entries(1, {1, 1}), 0)).is_ok());
  Ready in_flight = n.raft.ready();
  ASSERT_EQ(in_flight.entries.size(), 2u);
  ASSERT_EQ(only(in_flight.messages, MessageType::kAppResp).size(), 1u);
  n.raft.advance(in_flight);
  // The next append commits both and brings entry 3; its write is in flight.
  ASSERT_TRUE(n.raft.step(app(1, 2, 1, 2, 1, make_entries(3, {1}), 2)).is_ok());
  in_flight = n.raft.ready();
  ASSERT_EQ(in_flight.committed_entries.size(), 2u);  // persisted already: applied early
  ASSERT_TRUE(n.raft.step(app(1, 2, 1, 3, 1, make_entries(4, {1}), 3)).is_ok());
  // Entry 3 is committed but not yet persisted here: nothing to hand out, no ack either.
  EXPECT_FALSE(n.raft.has_partial_ready());
  n.raft.advance(in_flight);
  Ready next = n.raft.ready();
  ASSERT_EQ(next.committed_entries.size(), 1u);
  EXPECT_EQ(next.committed_entries[0].index, 3u);
}

// ... but its heartbeat responses of a term already durable do leave during the write: they
// promise no log position, and a slow disk must not look like a dead node to check-quorum.
TEST(RaftPaper, FollowerAnswersHeartbeatsOfADurableTermDuringItsWrite) {
  Node n(2);
  ASSERT_TRUE(n.raft.step(app(1, 2, 1, 0, 0, make_entries(1, {1, 1}), 0)).is_ok());
  Ready first = n.raft.ready();  // term 1 becomes durable with this write
  n.raft.advance(first);
  ASSERT_TRUE(n.raft.step(app(1, 2, 1, 2, 1, make_entries(3, {1}), 2)).is_ok());
  Ready in_flight = n.raft.ready();  // entry 3 being written
  ASSERT_EQ(in_flight.entries.size(), 1u);
  Message hb = make_msg(MessageType::kHeartbeat, 1, 2, 1);
  hb.context = 7;
  ASSERT_TRUE(n.raft.step(hb).is_ok());
  EXPECT_FALSE(n.raft.has_partial_ready());   // the driver said no term is durable
  EXPECT_FALSE(n.raft.has_partial_ready(2));  // nor one of another term
  ASSERT_TRUE(n.raft.has_partial_ready(1));
  Ready part = n.raft.partial_ready(1);
  EXPECT_FALSE(part.must_persist());
  ASSERT_EQ(part.messages.size(), 1u);
  EXPECT_EQ(part.messages[0].type, MessageType::kHeartbeatResp);
  EXPECT_EQ(part.messages[0].context, 7u);
  n.raft.advance(part);
  n.raft.advance(in_flight);
  Ready next = n.raft.ready();
  EXPECT_TRUE(only(next.messages, MessageType::kHeartbeatResp).empty());  // not sent twice
}

// Figure 8 / §5.4.2: "Raft never commits log entries from previous terms by counting
// replicas. Only log entries from the leader's current term are committed by counting."
TEST(RaftPaper, CommitsOnlyCurrentTermEntriesByCounting) {
  // Node 1 holds [t1, t2] and becomes leader of term 4: its no-op is entry 3.
  Node n(1, {1, 2, 3}, log_with_terms({1, 2}, 3));
  make_leader(n.raft);
  ASSERT_EQ(n.raft.term(), 4u);
  drain(n.raft);
  Message ack = make_msg(MessageType::kAppResp, 2, 1, 4);
  ack.index = 2;  // follower 2 holds entry 2 (term 2): a majority has it...
  ASSERT_TRUE(n.raft.step(ack).is_ok());
  EXPECT_EQ(n.raft.commit(), 0u);  // ...but it is from term 2: not committed by counting
  ack.index = 3;                   // the term-4 no-op reaches a majority
  ASSERT_TRUE(n.raft.step(ack).is_ok());
  EXPECT_EQ(n.raft.commit(), 3u);  // and commits entry 2 with it (Log Matching)
}

// "Reply false if log doesn't contain an entry at prevLogIndex whose term matches
// prevLogTerm" (AppendEntries receiver step 2).
TEST(RaftPaper, FollowerRejectsAppendFailingConsistencyCheck) {
  Node n(1, {1, 2, 3}, log_with_terms({1, 1, 2}, 2));
  struct Case {
    uint64_t prev, prev_term;
    bool reject;
  };
  const Case cases[] = {{3, 3, true}, {4, 2, true}, {3, 2, false}, {2, 1, false}, {0, 0, false}};
  for (const Case& c : cases) {
    ASSERT_TRUE(n.raft.step(app(2, 1, 2, c.prev, c.prev_term, {}, 0)).is_ok());
    auto resps = only(drain(n.raft), MessageType::kAppResp);
    ASSERT_EQ(resps.size(), 1u);
    EXPECT_EQ(resps[0].reject, c.reject) << c.prev << "/" << c.prev_term;
  }
}

// "If an existing entry conflicts with a new one (same index but different terms), delete the
// existing entry and all that follow it" and "Append any new entries not already in the log".
TEST(RaftPaper, FollowerTruncatesConflictingSuffixAndAppends) {
  Node n(1, {1, 2, 3}, log_with_terms({1, 1, 2, 2}, 2));
  ASSERT_TRUE(n.raft.step(app(2, 1, 3, 2, 1, make_entries(3, {3, 3, 3}), 0)).is_ok());
  Ready rd = n.raft.ready();
  ASSERT_TRUE(rd.truncate_from.has_value());
  EXPECT_EQ(*rd.truncate_from, 3u);  // the persisted suffix must be deleted
  ASSERT_EQ(rd.entries.size(), 3u);
  EXPECT_EQ(rd.entries[0].index, 3u);
  ASSERT_EQ(rd.truncated.size(), 2u);  // reported for the lost-write record
  EXPECT_EQ(rd.truncated[0].term, 2u);
  n.raft.advance(rd);
  EXPECT_EQ(n.raft.last_index(), 5u);
  EXPECT_EQ(n.raft.log().at(3).term, 3u);
}

// A delayed duplicate of an older AppendEntries must not truncate entries appended since
// (receiver step 3 applies only to *conflicting* entries).
TEST(RaftPaper, StaleDuplicateAppendDoesNotTruncate) {
  Node n(1);
  ASSERT_TRUE(n.raft.step(app(2, 1, 1, 0, 0, make_entries(1, {1, 1, 1}), 0)).is_ok());
  drain(n.raft);
  ASSERT_TRUE(n.raft.step(app(2, 1, 1, 0, 0, make_entries(1, {1}), 0)).is_ok());
  Ready rd = n.raft.ready();
  EXPECT_FALSE(rd.truncate_from.has_value());
  EXPECT_TRUE(rd.truncated.empty());
  n.raft.advance(rd);
  EXPECT_EQ(n.raft.last_index(), 3u);
}

// "If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last new entry)".
TEST(RaftPaper, FollowerCommitIsBoundedByLastNewEntry) {
  Node n(1);
  ASSERT_TRUE(n.raft.step(app(2, 1, 1, 0, 0, make_entries(1, {1, 1}), 5)).is_ok());
  EXPECT_EQ(n.raft.commit(), 2u);
  drain(n.raft);
  ASSERT_TRUE(n.raft.step(app(2, 1, 1, 2, 1, make_entries(3, {1, 1}), 3)).is_ok());
  EXPECT_EQ(n.raft.commit(), 3u);
}

// The follower's ack is emitted with the entries it acknowledges, and committed entries are
// handed out only once persisted locally.
TEST(RaftPaper, FollowerAcksOnlyWithTheEntriesToPersist) {
  Node n(1);
  ASSERT_TRUE(n.raft.step(app(2, 1, 1, 0, 0, make_entries(1, {1, 1}), 2)).is_ok());
  Ready rd = n.raft.ready();
  ASSERT_EQ(rd.entries.size(), 2u);
  auto acks = only(rd.messages, MessageType::kAppResp);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].index, 2u);
  EXPECT_TRUE(rd.committed_entries.empty());  // committed but not yet persisted here
  n.raft.advance(rd);
  Ready rd2 = n.raft.ready();
  EXPECT_EQ(rd2.committed_entries.size(), 2u);
  n.raft.advance(rd2);
}

// "A leader never overwrites or deletes entries in its own log" (Leader Append-Only): even when
// followers reject and an old leader's entries arrive.
TEST(RaftPaper, LeaderNeverOverwritesItsOwnLog) {
  Node n(1, {1, 2, 3}, log_with_terms({1, 1, 2}, 2));
  make_leader(n.raft);
  drain(n.raft);
  const std::vector<uint64_t> before = {n.raft.log().at(1).term, n.raft.log().at(2).term,
                                        n.raft.log().at(3).term, n.raft.log().at(4).term};
  Message rej = make_msg(MessageType::kAppResp, 2, 1, n.raft.term());
  rej.reject = true;
  rej.index = 3;
  rej.reject_hint_index = 1;
  rej.reject_hint_term = 1;
  ASSERT_TRUE(n.raft.step(rej).is_ok());
  // An AppendEntries of the same term cannot come from another leader; it is ignored.
  ASSERT_TRUE(n.raft.step(app(2, 1, n.raft.term(), 0, 0, make_entries(1, {9}), 0)).is_ok());
  drain(n.raft);
  ASSERT_EQ(n.raft.last_index(), 4u);
  for (uint64_t i = 1; i <= 4; ++i)
    EXPECT_EQ(n.raft.log().at(i).term, before[i - 1]);
}

// Figure 7: whatever the followers' logs, the leader brings them to match its own.
TEST(RaftPaper, LeaderBringsEveryFigure7FollowerIntoConsistency) {
  const std::vector<uint64_t> leader = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6};
  const std::vector<std::vector<uint64_t>> followers = {
      {1, 1, 1, 4, 4, 5, 5, 6, 6},           // (a)
      {1, 1, 1, 4},                          // (b)
      {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6},     // (c)
      {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7},  // (d)
      {1, 1, 1, 4, 4, 4, 4},                 // (e)
      {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3},     // (f)
  };
  for (const auto& f : followers) {
    std::map<NodeId, PersistentState> init;
    init[1] = log_with_terms(leader, 8);
    init[2] = log_with_terms(f, 8);
    init[3] = log_with_terms({}, 8);  // an empty log: its vote elects node 1 even against (d)
    Cluster c(
        3, 1, [](Config& cfg) { cfg.pre_vote = cfg.check_quorum = false; }, init);
    ASSERT_TRUE(c.elect(1));
    c.settle(5);
    for (NodeId id : {2, 3}) {
      ASSERT_EQ(c.raft(id).last_index(), c.raft(1).last_index()) << "follower log " << f.size();
      for (uint64_t i = 1; i <= c.raft(1).last_index(); ++i) {
        EXPECT_EQ(c.raft(id).log().at(i).term, c.raft(1).log().at(i).term);
      }
      EXPECT_EQ(c.raft(id).commit(), c.raft(1).last_index());
    }
    EXPECT_TRUE(c.violation().is_ok()) << c.violation().to_string();
  }
}

// §5.4.3 safety argument end to end: a committed entry survives the leader's loss, because the
// election restriction only lets a node that holds it win.
TEST(RaftPaper, CommittedEntrySurvivesLeaderChange) {
  Cluster c(5, 3, [](Config& cfg) { cfg.pre_vote = cfg.check_quorum = false; });
  ASSERT_TRUE(c.elect(1));
  c.settle();
  // Entry reaches only nodes 1, 2, 3 (a majority) and commits.
  c.cut(1, 4);
  c.cut(1, 5);
  auto idx = c.propose(1, "committed");
  ASSERT_TRUE(idx.is_ok());
  c.deliver_all();
  ASSERT_GE(c.raft(1).commit(), *idx);
  c.crash(1);
  c.heal();
  // Node 4 lacks the entry: it cannot win (nodes 2 and 3 refuse)...
  c.tick(4);
  for (int i = 0; i < 40 && c.raft(4).role() != Role::kLeader; ++i) {
    c.tick(4);
    c.deliver_all();
  }
  EXPECT_NE(c.raft(4).role(), Role::kLeader);
  // ...and whoever wins has it.
  ASSERT_TRUE(c.elect(2));
  c.settle();
  EXPECT_EQ(c.raft(2).log().at(*idx).data, "committed");
  EXPECT_EQ(c.node(4).sm.at(*idx), "committed");
  EXPECT_TRUE(c.violation().is_ok()) << c.violation().to_string();
}

}  // namespace
}  // namespace rkv::raft

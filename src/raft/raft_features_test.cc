// The extensions beyond Figure 2: pre-vote, check-quorum and leader stickiness, leadership
// transfer, snapshots in chunks, ReadIndex, leases, fast backtracking, flow control, restarts.
#include <gtest/gtest.h>

#include <limits>

#include "raft/raft.h"
#include "raft/raft_test_util.h"

namespace rkv::raft {
namespace {

using testing::Cluster;
using testing::log_with_terms;
using testing::make_msg;

#define EXPECT_SAFE(c) EXPECT_TRUE((c).violation().is_ok()) << (c).violation().to_string()

// ---- pre-vote ------------------------------------------------------------------------------

// §9.6: a node partitioned away keeps timing out, but its pre-votes fail, so its term does not
// grow, and when it rejoins it does not depose the healthy leader.
TEST(PreVote, PartitionedNodeRejoiningDoesNotDisrupt) {
  Cluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.settle();
  const uint64_t term = c.raft(1).term();
  c.isolate(3);
  for (int i = 0; i < 100; ++i) {
    c.tick(3);
    c.tick(1);
    c.deliver_all();
  }
  EXPECT_EQ(c.raft(3).term(), term);
  EXPECT_NE(c.raft(3).role(), Role::kLeader);
  c.heal();
  c.settle(5);
  EXPECT_EQ(c.raft(1).role(), Role::kLeader);
  EXPECT_EQ(c.raft(1).term(), term);
  EXPECT_EQ(c.raft(3).leader(), 1u);
  EXPECT_SAFE(c);
}

// The contrast: without pre-vote and check-quorum the rejoining node's inflated term forces
// the leader to step down.
TEST(PreVote, WithoutItARejoiningNodeDisruptsTheLeader) {
  Cluster c(3, 1, [](Config& cfg) { cfg.pre_vote = cfg.check_quorum = false; });
  ASSERT_TRUE(c.elect(1));
  c.settle();
  const uint64_t term = c.raft(1).term();
  c.isolate(3);
  for (int i = 0; i < 100; ++i)
    c.tick(3);
  c.net.clear();
  EXPECT_GT(c.raft(3).term(), term);
  c.heal();
  for (int i = 0; i < 40; ++i) {
    c.tick(1);
    c.tick(3);
    c.deliver_all();
  }
  EXPECT_GT(c.raft(1).term(), term);
  EXPECT_SAFE(c);
}

TEST(PreVote, FailedPreElectionChangesNeitherTermNorVote) {
  Cluster c(3);
  c.isolate(1);
  for (int i = 0; i < 60; ++i)
    c.tick(1);
  EXPECT_EQ(c.raft(1).term(), 0u);
  EXPECT_EQ(c.raft(1).vote(), 0u);
  EXPECT_EQ(c.raft(1).role(), Role::kPreCandidate);
}

// ---- check-quorum and leader stickiness ---------------------------------------------------

TEST(CheckQuorum, LeaderWithoutQuorumContactStepsDown) {
  Cluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.settle();
  c.isolate(1);
  for (int i = 0; i < 2 * c.raft(1).config().election_tick; ++i) {
    c.tick(1);
    c.deliver_all();
  }
  EXPECT_EQ(c.raft(1).role(), Role::kFollower);
  EXPECT_EQ(c.raft(1).leader(), 0u);
}

TEST(CheckQuorum, FollowerWithLiveLeaderIgnoresVoteRequests) {
  Cluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.settle();
  const uint64_t term = c.raft(1).term();
  Message v = make_msg(MessageType::kVote, 2, 3, term + 1);
  v.index = c.raft(2).last_index();
  v.log_term = c.raft(2).last_term();
  ASSERT_TRUE(c.raft(3).step(v).is_ok());
  EXPECT_EQ(c.raft(3).term(), term);  // ignored outright
  // A campaign started by leadership transfer overrides stickiness.
  v.context = kCampaignTransfer;
  ASSERT_TRUE(c.raft(3).step(v).is_ok());
  EXPECT_EQ(c.raft(3).term(), term + 1);
  EXPECT_EQ(c.raft(3).vote(), 2u);
}

TEST(CheckQuorum, RestartedNodeStaysOutOfElectionsForOneTimeout) {
  Cluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.settle();
  c.crash(3);
  c.restart(3);
  const uint64_t term = c.raft(3).term();
  Message v = make_msg(MessageType::kVote, 2, 3, term + 1);
  v.index = c.raft(2).last_index();
  v.log_term = c.raft(2).last_term();
  ASSERT_TRUE(c.raft(3).step(v).is_ok());
  EXPECT_EQ(c.raft(3).term(), term);  // it may have acked a lease just before crashing
  for (int i = 0; i < c.raft(3).config().election_tick; ++i)
    c.raft(3).tick();
  ASSERT_TRUE(c.raft(3).step(v).is_ok());
  EXPECT_EQ(c.raft(3).term(), term + 1);
}

// ---- leadership transfer ---------------------------------------------------------------------

TEST(Transfer, ToCaughtUpFollowerHandsOverWithTimeoutNow) {
  Cluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.settle();
  const uint64_t term = c.raft(1).term();
  ASSERT_TRUE(c.raft(1).transfer_leadership(2).is_ok());
  EXPECT_EQ(c.raft(1).propose("x").status().code(), Code::kUnavailable);
  c.process(1);
  c.deliver_all();
  EXPECT_EQ(c.raft(2).role(), Role::kLeader);
  EXPECT_EQ(c.raft(2).term(), term + 1);
  EXPECT_EQ(c.raft(1).role(), Role::kFollower);
  EXPECT_FALSE(c.raft(1).lease_read_ok());
  EXPECT_SAFE(c);
}

TEST(Transfer, LaggingTargetIsCaughtUpFirst) {
  Cluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.settle();
  c.isolate(3);
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(c.propose(1, "v" + std::to_string(i)).is_ok());
  c.deliver_all();
  c.heal();
  ASSERT_LT(c.raft(3).last_index(), c.raft(1).last_index());
  const uint64_t last = c.raft(1).last_index();
  ASSERT_TRUE(c.raft(1).transfer_leadership(3).is_ok());
  c.process(1);
  c.deliver_all();
  EXPECT_EQ(c.raft(3).role(), Role::kLeader);
  EXPECT_GE(c.raft(3).last_index(), last);
  EXPECT_SAFE(c);
}

TEST(Transfer, AbandonedAfterAnElectionTimeout) {
  Cluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.settle();
  c.cut(1, 2);
  ASSERT_TRUE(c.raft(1).transfer_leadership(2).is_ok());
  EXPECT_EQ(c.raft(1).transferee(), 2u);
  for (int i = 0; i < c.raft(1).config().election_tick; ++i) {
    c.tick(1);
    c.deliver_all();
  }
  EXPECT_EQ(c.raft(1).transferee(), 0u);
  EXPECT_EQ(c.raft(1).role(), Role::kLeader);
  EXPECT_TRUE(c.propose(1, "after").is_ok());
}

// ---- a full disk (set_disk_full) ------------------------------------------------------------

// Delivers everything and completes every in-flight Ready (async_persist) except `stuck`'s: its
// disk refuses the write, so its Ready stays in flight.
void drive_all_but(Cluster& c, NodeId stuck) {
  for (int round = 0; round < 100; ++round) {
    c.deliver_all();
    bool any = false;
    for (NodeId id : c.ids()) {
      if (id != stuck && c.in_flight(id)) {
        c.complete(id);
        any = true;
      }
    }
    if (!any && c.net.empty()) return;
  }
}

TEST(DiskFull, LeaderHandsLeadershipToTheMostUpToDateAcknowledgingFollower) {
  Cluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.settle();
  c.cut(1, 3);  // 3 falls behind
  ASSERT_TRUE(c.propose(1, "x").is_ok());
  c.settle();
  c.heal();
  ASSERT_GT(c.raft(2).last_index(), c.raft(3).last_index());
  EXPECT_EQ(c.raft(1).disk_handoff_target(), 2u);
  const uint64_t term = c.raft(1).term();

  c.raft(1).set_disk_full(true);
  EXPECT_EQ(c.raft(1).transferee(), 2u);
  EXPECT_EQ(c.raft(1).disk_full_handoffs(), 1u);
  c.process(1);
  c.deliver_all();
  EXPECT_EQ(c.raft(2).role(), Role::kLeader);
  EXPECT_EQ(c.raft(2).term(), term + 1);
  EXPECT_EQ(c.raft(1).role(), Role::kFollower);
  EXPECT_TRUE(c.propose(2, "y").is_ok());
  c.settle();
  EXPECT_EQ(c.raft(1).last_index(), c.raft(2).last_index());  // a follower still replicates
  EXPECT_SAFE(c);
}

// The leader's own write is stuck (the disk refused it): TimeoutNow, like appends, needs
// nothing of that write, so it leaves while the write waits, and the others elect the target.
TEST(DiskFull, LeaderWhoseWriteIsStuckStillHandsOver) {
  Cluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.settle();
  c.async_persist = true;
  ASSERT_TRUE(c.propose(1, "x").is_ok());
  ASSERT_TRUE(c.in_flight(1));  // never completed below
  // The append rides in the stuck Ready (this harness sends it with the write); heartbeats
  // find the followers behind and send it again, as partial Readies.
  for (int i = 0; i < 3; ++i) {
    c.tick(1);
    drive_all_but(c, 1);
  }
  ASSERT_EQ(c.raft(2).last_index(), c.raft(1).last_index());

  c.raft(1).set_disk_full(true);
  EXPECT_EQ(c.raft(1).disk_full_handoffs(), 1u);
  c.process(1);
  drive_all_but(c, 1);
  const NodeId to = c.leader();
  ASSERT_NE(to, kNoNode);
  ASSERT_NE(to, 1u);
  EXPECT_TRUE(c.in_flight(1));

  // Space returns: the old leader's write completes and it catches up as a follower.
  c.raft(1).set_disk_full(false);
  ASSERT_TRUE(c.propose(to, "y").is_ok());
  for (int i = 0; i < 5; ++i) {
    c.complete(1);
    c.settle();
    drive_all_but(c, 0);
  }
  EXPECT_EQ(c.raft(1).role(), Role::kFollower);
  EXPECT_EQ(c.raft(1).commit(), c.raft(to).commit());
  EXPECT_SAFE(c);
}

// Leader 1 is cut off; node 2, whose disk is full, ticks alone through `timeouts` election
// timeouts.
void lose_the_leader_with_a_full_disk(Cluster& c, int timeouts) {
  ASSERT_TRUE(c.elect(1));
  c.settle();
  c.isolate(1);
  c.raft(2).set_disk_full(true);
  for (int i = 0; i < timeouts * c.raft(2).config().election_tick; ++i) {
    c.tick(2);
    c.deliver_all();
  }
}

TEST(DiskFull, NodeWithAFullDiskDoesNotCampaign) {
  Cluster c(3);
  lose_the_leader_with_a_full_disk(c, 10);
  const uint64_t term = c.raft(3).term();
  EXPECT_EQ(c.raft(2).role(), Role::kFollower);
  EXPECT_EQ(c.raft(2).term(), term);
  // Node 3 has room: it is elected, with 2's vote (voting needs no leadership).
  ASSERT_TRUE(c.elect(3));
  EXPECT_EQ(c.raft(2).leader(), 3u);
  EXPECT_SAFE(c);
}

// The election timer of a node with a full disk stays expired: it does not look as if it heard
// a leader lately (which would refuse others' votes), and it campaigns as soon as there is room.
TEST(DiskFull, NodeCampaignsAtItsNextTickOnceThereIsRoom) {
  Cluster c(3);
  lose_the_leader_with_a_full_disk(c, 3);
  ASSERT_EQ(c.raft(2).role(), Role::kFollower);
  c.raft(2).set_disk_full(false);
  c.tick(2);
  EXPECT_NE(c.raft(2).role(), Role::kFollower);
}

TEST(DiskFull, TransferToANodeWithAFullDiskIsIgnoredAndAbandoned) {
  Cluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.settle();
  c.raft(2).set_disk_full(true);
  ASSERT_TRUE(c.raft(1).transfer_leadership(2).is_ok());
  c.process(1);
  c.deliver_all();
  EXPECT_EQ(c.raft(2).role(), Role::kFollower);
  EXPECT_EQ(c.raft(1).role(), Role::kLeader);
  for (int i = 0; i < c.raft(1).config().election_tick; ++i) {
    c.tick(1);
    c.deliver_all();
  }
  EXPECT_EQ(c.raft(1).transferee(), kNoNode);
  EXPECT_TRUE(c.propose(1, "after").is_ok());
}

// Node 2, the most up-to-date, cannot take over (its disk is full too): the retry after an
// election timeout goes to node 3.
TEST(DiskFull, RetryGoesToAnotherFollower) {
  Cluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.settle();
  c.raft(2).set_disk_full(true);
  c.raft(1).set_disk_full(true);
  EXPECT_EQ(c.raft(1).transferee(), 2u);
  for (int i = 0; i < 3 * c.raft(1).config().election_tick && c.raft(1).role() == Role::kLeader;
       ++i) {
    c.tick(1);
    c.deliver_all();
  }
  EXPECT_EQ(c.raft(3).role(), Role::kLeader);
  EXPECT_EQ(c.raft(1).disk_full_handoffs(), 2u);
  EXPECT_SAFE(c);
}

TEST(DiskFull, CampaignUnderWayIsGivenUp) {
  Cluster c(3);
  for (int i = 0; i < 2 * c.raft(2).config().election_tick; ++i) {
    if (c.raft(2).role() != Role::kFollower) break;
    c.raft(2).tick();  // its vote requests stay unsent
  }
  ASSERT_NE(c.raft(2).role(), Role::kFollower);
  c.raft(2).set_disk_full(true);
  EXPECT_EQ(c.raft(2).role(), Role::kFollower);
}

TEST(DiskFull, WithoutAnAcknowledgingFollowerLeadershipStays) {
  Cluster lone(1);
  ASSERT_TRUE(lone.elect(1));
  lone.raft(1).set_disk_full(true);
  EXPECT_EQ(lone.raft(1).role(), Role::kLeader);
  EXPECT_EQ(lone.raft(1).disk_full_handoffs(), 0u);
  EXPECT_EQ(lone.raft(1).disk_handoff_target(), kNoNode);
}

// ---- snapshots -------------------------------------------------------------------------------

// Cuts node 3 off and commits n entries on leader 1 without it; returns 1's applied index.
uint64_t commit_without_3(Cluster& c, int n) {
  c.isolate(3);
  for (int i = 0; i < n; ++i)
    EXPECT_TRUE(c.propose(1, "value-" + std::to_string(i)).is_ok());
  c.settle();
  return c.raft(1).applied();
}

TEST(Snapshot, LaggingFollowerReceivesSnapshotInChunks) {
  Cluster c(3, 1, [](Config& cfg) { cfg.snapshot_chunk_bytes = 16; });
  ASSERT_TRUE(c.elect(1));
  c.settle();
  const uint64_t applied = commit_without_3(c, 20);
  ASSERT_TRUE(c.raft(1).compact(applied, testing::encode_state(c.node(1).sm)).is_ok());
  c.process(1);
  EXPECT_EQ(c.raft(1).log().base_index(), applied);

  int chunks = 0;
  c.drop = [&](const Message& m) {
    if (m.type == MessageType::kSnapshot && m.to == 3) ++chunks;
    return false;
  };
  c.heal();
  c.settle(10);
  EXPECT_GT(chunks, 10);  // hundreds of bytes in 16-byte chunks
  EXPECT_EQ(c.raft(3).log().base_index(), applied);
  EXPECT_EQ(c.raft(3).commit(), c.raft(1).commit());
  EXPECT_EQ(c.node(3).sm, c.node(1).sm);
  EXPECT_EQ(c.raft(1).progress().at(3).state, ProgressState::kReplicate);
  // The installed snapshot was persisted: a restart restores it.
  c.crash(3);
  c.restart(3);
  EXPECT_EQ(c.raft(3).log().base_index(), applied);
  c.settle();
  EXPECT_EQ(c.node(3).sm, c.node(1).sm);
  EXPECT_SAFE(c);
}

// A leader that let go of its image (the application keeps it in a file) asks for it when a
// follower needs it, sends nothing meanwhile, and streams it once it is handed back; an image
// handed back for an older snapshot, or while held, is ignored.
// With compact_stored (the application wrote the image itself, a part at a time, and never
// handed it over) Raft starts out as after drop_image.
void dropped_image_is_asked_for_and_sent_once_restored(bool stored) {
  Cluster c(3, 1, [](Config& cfg) { cfg.snapshot_chunk_bytes = 16; });
  ASSERT_TRUE(c.elect(1));
  c.settle();
  EXPECT_FALSE(c.raft(1).drop_image());  // no snapshot yet
  const uint64_t applied = commit_without_3(c, 20);
  const std::string image = testing::encode_state(c.node(1).sm);
  if (stored) {
    ASSERT_TRUE(c.raft(1).compact_stored(applied, image.size()).is_ok());
    EXPECT_FALSE(c.raft(1).drop_image());  // nothing held to drop
    c.process(1);
  } else {
    ASSERT_TRUE(c.raft(1).compact(applied, image).is_ok());
    c.process(1);
    ASSERT_TRUE(c.raft(1).drop_image());
  }
  EXPECT_EQ(c.raft(1).snapshot().meta.index, applied);
  EXPECT_FALSE(c.raft(1).image_held());
  EXPECT_TRUE(c.raft(1).snapshot().data.empty());
  EXPECT_EQ(c.raft(1).image_wanted(), 0u);

  int chunks = 0;
  c.drop = [&](const Message& m) {
    if (m.type == MessageType::kSnapshot && m.to == 3) ++chunks;
    return false;
  };
  c.heal();
  c.settle(10);
  EXPECT_EQ(chunks, 0);
  EXPECT_EQ(c.raft(1).image_wanted(), applied);
  EXPECT_EQ(c.raft(1).progress().at(3).state, ProgressState::kSnapshot);
  c.raft(1).restore_image(applied - 1, "stale");  // not the current snapshot: ignored
  EXPECT_FALSE(c.raft(1).image_held());
  c.raft(1).restore_image(applied, image);
  EXPECT_TRUE(c.raft(1).image_held());
  EXPECT_EQ(c.raft(1).image_wanted(), 0u);
  EXPECT_FALSE(c.raft(1).drop_image());  // a transfer is under way
  c.settle(10);
  EXPECT_GT(chunks, 10);
  EXPECT_EQ(c.raft(3).log().base_index(), applied);
  EXPECT_EQ(c.node(3).sm, c.node(1).sm);
  EXPECT_EQ(c.raft(1).progress().at(3).state, ProgressState::kReplicate);
  EXPECT_TRUE(c.raft(1).drop_image());  // done: it can go again
  EXPECT_SAFE(c);
}

TEST(Snapshot, DroppedImageIsAskedForAndSentOnceRestored) {
  dropped_image_is_asked_for_and_sent_once_restored(/*stored=*/false);
}

TEST(Snapshot, StoredImageIsAskedForAndSentOnceRestored) {
  dropped_image_is_asked_for_and_sent_once_restored(/*stored=*/true);
}

TEST(Snapshot, FollowerWithinCatchupEntriesCatchesUpFromTheLog) {
  Cluster c(3, 1, [](Config& cfg) { cfg.snapshot_catchup_entries = 25; });
  ASSERT_TRUE(c.elect(1));
  for (int i = 0; i < 30; ++i)
    ASSERT_TRUE(c.propose(1, "early-" + std::to_string(i)).is_ok());
  c.settle();
  const uint64_t behind = c.raft(3).last_index();
  const uint64_t applied = commit_without_3(c, 20);
  ASSERT_EQ(applied, behind + 20);
  ASSERT_TRUE(c.raft(1).compact(applied, testing::encode_state(c.node(1).sm)).is_ok());
  c.process(1);
  // The image covers node 3's missing entries, but 25 entries stay in the log below it...
  EXPECT_EQ(c.raft(1).snapshot().meta.index, applied);
  EXPECT_EQ(c.raft(1).log().base_index(), applied - 25);
  // ...so node 3 is sent entries, not the image.
  int chunks = 0;
  c.drop = [&](const Message& m) {
    if (m.type == MessageType::kSnapshot) ++chunks;
    return false;
  };
  c.heal();
  c.settle(10);
  EXPECT_EQ(chunks, 0);
  EXPECT_EQ(c.raft(1).snapshots_sent(), 0u);
  EXPECT_EQ(c.raft(3).commit(), c.raft(1).commit());
  EXPECT_EQ(c.node(3).sm, c.node(1).sm);
  // The kept entries were persisted beside the image; after a restart the log starts at the
  // image again.
  c.crash(1);
  c.restart(1);
  EXPECT_EQ(c.raft(1).log().base_index(), applied);
  EXPECT_EQ(c.raft(1).snapshot().meta.index, applied);
  c.settle(20);
  EXPECT_EQ(c.node(1).sm, c.node(3).sm);
  EXPECT_SAFE(c);
}

TEST(Snapshot, FollowerBeyondCatchupEntriesGetsTheImage) {
  Cluster c(3, 1, [](Config& cfg) { cfg.snapshot_catchup_entries = 4; });
  ASSERT_TRUE(c.elect(1));
  c.settle();
  const uint64_t applied = commit_without_3(c, 20);
  ASSERT_TRUE(c.raft(1).compact(applied, testing::encode_state(c.node(1).sm)).is_ok());
  c.process(1);
  EXPECT_EQ(c.raft(1).log().base_index(), applied - 4);
  c.heal();
  c.settle(10);
  EXPECT_EQ(c.raft(1).snapshots_sent(), 1u);
  EXPECT_EQ(c.raft(3).snapshots_installed(), 1u);
  EXPECT_EQ(c.raft(3).log().base_index(), applied);
  EXPECT_EQ(c.node(3).sm, c.node(1).sm);
  EXPECT_SAFE(c);
}

// A deposed leader that catches up from a snapshot reports the entries of its own that the
// committed history does not hold (the node layer records them as lost writes), and only those:
// its entries the new leader kept are part of the image.
TEST(Snapshot, InstallReportsTheDivergedEntriesItDrops) {
  for (bool bug : {false, true}) {
    Cluster c(3, 1, [&](Config& cfg) {
      cfg.snapshot_catchup_entries = 0;
      if (bug) cfg.bugs = kBugSnapshotForgetsLost;
    });
    ASSERT_TRUE(c.elect(1));
    c.settle();
    // Two entries reach follower 2 only (they will commit under 2); then 1 is cut off and
    // appends three more that nobody holds.
    c.cut(1, 3);
    ASSERT_TRUE(c.propose(1, "kept-a").is_ok());
    ASSERT_TRUE(c.propose(1, "kept-b").is_ok());
    c.drop = [](const Message& m) { return m.to == 1; };  // 1 never learns they committed
    c.settle();
    c.drop = nullptr;
    const uint64_t kept_to = c.raft(1).last_index();
    ASSERT_LT(c.raft(1).commit(), kept_to);
    c.isolate(1);
    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE(c.propose(1, "lost-" + std::to_string(i)).is_ok());
    c.process(1);
    for (int i = 0; i < 200 && c.raft(2).role() != Role::kLeader; ++i) {
      c.tick(2);
      c.tick(3);
      c.deliver_all();
    }
    ASSERT_EQ(c.raft(2).role(), Role::kLeader);
    for (int i = 0; i < 10; ++i)
      ASSERT_TRUE(c.propose(2, "new-" + std::to_string(i)).is_ok());
    c.settle();
    ASSERT_TRUE(
        c.raft(2).compact(c.raft(2).applied(), testing::encode_state(c.node(2).sm)).is_ok());
    c.process(2);
    ASSERT_TRUE(c.raft(2).snapshot().meta.term_at(kept_to).has_value());
    c.node(1).truncated.clear();
    c.heal();
    c.settle(10);
    ASSERT_EQ(c.raft(1).snapshots_installed(), 1u);
    std::vector<std::string> lost;
    for (const Entry& e : c.node(1).truncated)
      lost.push_back(e.data.str());
    if (bug) {
      EXPECT_TRUE(lost.empty());
    } else {
      EXPECT_EQ(lost, (std::vector<std::string>{"lost-0", "lost-1", "lost-2"}));
    }
    EXPECT_EQ(c.node(1).sm, c.node(2).sm);
    EXPECT_SAFE(c);
  }
}

// Compaction drops the prefix at once for every user of the log, but frees the entries a
// bounded number per tick (no burst of frees the size of the log in one step).
TEST(Snapshot, CompactionFreesTheDroppedEntriesAFewPerTick) {
  RaftLog log;
  std::vector<Entry> entries;
  for (uint64_t i = 1; i <= 20000; ++i)
    entries.push_back(Entry{i < 10000 ? 1u : 2u, i, EntryType::kNormal, "x"});
  log.restore(SnapshotMeta{}, std::move(entries), 20000);
  log.applied_to(20000);
  log.compact(19990);
  EXPECT_EQ(log.first_index(), 19991u);
  EXPECT_EQ(log.term(19990), 2u);
  EXPECT_EQ(log.term(19989), std::nullopt);
  EXPECT_EQ(log.last_index(), 20000u);
  EXPECT_EQ(log.dropped_held(), 19990u);
  int steps = 0;
  while (log.trim_step(4096))
    ++steps;
  EXPECT_EQ(steps, 4);
  EXPECT_EQ(log.dropped_held(), 0u);
  EXPECT_EQ(log.at(19995).index, 19995u);
  // An installed snapshot replaces the log; the old one goes the same way.
  log.install_snapshot(SnapshotMeta{30000, 3, {}, {}});
  EXPECT_EQ(log.last_index(), 30000u);
  EXPECT_EQ(log.dropped_held(), 10u);
  EXPECT_FALSE(log.trim_step(100));
}

TEST(Snapshot, CompactionRecordsWhereEachTermStarts) {
  Cluster c(3, 1, [](Config& cfg) { cfg.snapshot_catchup_entries = 0; });
  ASSERT_TRUE(c.elect(1));
  ASSERT_TRUE(c.propose(1, "a").is_ok());
  c.settle();
  const uint64_t t1_from = 1;
  ASSERT_TRUE(c.raft(1).transfer_leadership(2).is_ok());
  c.settle(5);
  ASSERT_EQ(c.raft(2).role(), Role::kLeader);
  ASSERT_TRUE(c.propose(2, "b").is_ok());
  c.settle();
  const uint64_t applied = c.raft(2).applied();
  ASSERT_TRUE(c.raft(2).compact(applied, testing::encode_state(c.node(2).sm)).is_ok());
  const SnapshotMeta& m = c.raft(2).snapshot().meta;
  ASSERT_EQ(m.term_starts.size(), 2u);
  EXPECT_EQ(m.term_starts[0].index, t1_from);
  for (uint64_t i = 1; i <= applied; ++i)
    EXPECT_EQ(m.term_at(i), c.raft(1).log().term(i)) << i;
}

TEST(Snapshot, TransferInterruptedByFollowerRestartStartsOver) {
  Cluster c(3, 1, [](Config& cfg) { cfg.snapshot_chunk_bytes = 8; });
  ASSERT_TRUE(c.elect(1));
  c.settle();
  const uint64_t applied = commit_without_3(c, 10);
  ASSERT_TRUE(c.raft(1).compact(applied, testing::encode_state(c.node(1).sm)).is_ok());
  c.process(1);
  c.heal();
  int chunks = 0;
  bool restarted = false;
  c.drop = [&](const Message& m) {
    if (m.type == MessageType::kSnapshot && m.to == 3) ++chunks;
    return false;
  };
  for (int i = 0; i < 200 && !restarted; ++i) {
    c.tick(1);
    while (c.deliver_one()) {
      if (chunks >= 4 && !restarted) {
        c.crash(3);
        c.restart(3);
        restarted = true;
        break;
      }
    }
  }
  ASSERT_TRUE(restarted);
  EXPECT_EQ(c.raft(3).log().base_index(), 0u);
  c.settle(20);
  EXPECT_EQ(c.raft(3).log().base_index(), c.raft(1).log().base_index());
  EXPECT_EQ(c.node(3).sm, c.node(1).sm);
  EXPECT_SAFE(c);
}

TEST(Snapshot, CompactionKeepsTheLogBoundedUnderLoad) {
  Cluster c(3);
  c.compact_every = 10;
  ASSERT_TRUE(c.elect(1));
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(c.propose(1, "v" + std::to_string(i)).is_ok());
    c.settle(1);
  }
  for (NodeId id : c.ids()) {
    EXPECT_LE(c.raft(id).last_index() - c.raft(id).log().base_index(), 12u);
  }
  EXPECT_SAFE(c);
}

TEST(Snapshot, CompactBeyondAppliedIsRefused) {
  Cluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.settle();
  EXPECT_EQ(c.raft(1).compact(c.raft(1).applied() + 1, "").code(), Code::kInvalidArgument);
}

// ---- ReadIndex and lease ----------------------------------------------------------------------

TEST(ReadIndex, LeaderReleasesReadAfterAHeartbeatQuorum) {
  Cluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.settle();
  ASSERT_TRUE(c.raft(1).read_index(42).is_ok());
  EXPECT_TRUE(c.node(1).reads.empty());
  c.process(1);  // sends the confirmation round
  EXPECT_TRUE(c.node(1).reads.empty());
  c.deliver_all();
  ASSERT_EQ(c.node(1).reads.size(), 1u);
  EXPECT_EQ(c.node(1).reads[0].ctx, 42u);
  EXPECT_EQ(c.node(1).reads[0].index, c.raft(1).commit());
}

TEST(ReadIndex, FollowerRefusesSoTheNodeLayerForwards) {
  Cluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.settle();
  EXPECT_EQ(c.raft(2).read_index(1).code(), Code::kUnavailable);
}

TEST(ReadIndex, IsolatedLeaderNeverReleasesARead) {
  Cluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.settle();
  c.isolate(1);
  ASSERT_TRUE(c.raft(1).read_index(9).is_ok());
  for (int i = 0; i < 30; ++i) {
    c.tick(1);
    c.deliver_all();
  }
  EXPECT_TRUE(c.node(1).reads.empty());
}

// §6.4: a new leader does not know the commit index until it commits an entry of its own term;
// reads wait for that.
TEST(ReadIndex, WaitsForTheFirstCommitOfTheTerm) {
  Cluster c(3);
  c.drop = [](const Message& m) { return m.type == MessageType::kAppResp; };
  ASSERT_TRUE(c.elect(1));
  c.settle();
  ASSERT_EQ(c.raft(1).commit(), 0u);
  ASSERT_TRUE(c.raft(1).read_index(5).is_ok());
  c.settle();
  EXPECT_TRUE(c.node(1).reads.empty());  // heartbeats were answered, but nothing committed yet
  c.drop = nullptr;
  c.settle();
  ASSERT_EQ(c.node(1).reads.size(), 1u);
  EXPECT_GE(c.node(1).reads[0].index, 1u);  // at least the no-op
}

TEST(Lease, ValidAfterQuorumAckAndExpiresWithoutContact) {
  Cluster c(3);
  ASSERT_TRUE(c.elect(1));
  EXPECT_FALSE(c.raft(1).lease_read_ok());
  c.settle();
  EXPECT_TRUE(c.raft(1).lease_read_ok());
  EXPECT_FALSE(c.raft(2).lease_read_ok());
  c.isolate(1);
  const Config& cfg = c.raft(1).config();
  int valid_ticks = 0;
  while (c.raft(1).lease_read_ok()) {
    c.tick(1);
    c.deliver_all();
    ++valid_ticks;
  }
  EXPECT_LE(valid_ticks, cfg.election_tick - cfg.lease_drift_ticks);
  EXPECT_EQ(c.raft(1).role(), Role::kLeader);  // still leader, but no longer trusts its lease
}

// A pause of the leader (skipped ticks) is real time: a lease it held before is over, though it
// still leads (its election timers did not fire), until a quorum acknowledges it again.
TEST(Lease, SkippedTicksEndItWithoutDeposingTheLeader) {
  Cluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.settle();
  ASSERT_TRUE(c.raft(1).lease_read_ok());
  const uint64_t term = c.raft(1).term();
  c.raft(1).skip_ticks(static_cast<uint64_t>(c.raft(1).config().election_tick) * 10);
  EXPECT_FALSE(c.raft(1).lease_read_ok());
  EXPECT_EQ(c.raft(1).role(), Role::kLeader);
  c.tick(1);  // a heartbeat round, acknowledged by the followers
  c.settle(1);
  EXPECT_TRUE(c.raft(1).lease_read_ok());
  EXPECT_EQ(c.raft(1).term(), term);
}

// The broken variant the simulator must catch: the pause is not counted, the lease outlives it.
TEST(Lease, BugLeaseIgnoresPauseKeepsAStaleLease) {
  Cluster c(3, 1, [](Config& cfg) { cfg.bugs = kBugLeaseIgnoresPause; });
  ASSERT_TRUE(c.elect(1));
  c.settle();
  c.raft(1).skip_ticks(1000);
  EXPECT_TRUE(c.raft(1).lease_read_ok());
}

// Skipped ticks do not fire a follower's election timer: after a pause it reads its leader's
// messages before it could campaign.
TEST(CheckQuorum, SkippedTicksDoNotMakeAFollowerCampaign) {
  Cluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.settle();
  c.raft(2).skip_ticks(1000);
  c.tick(2);
  c.process(2);
  EXPECT_EQ(c.raft(2).role(), Role::kFollower);
  EXPECT_EQ(c.raft(2).leader(), 1u);
  EXPECT_EQ(c.raft(2).ticks_since_leader(), 1001u);  // but the time since the leader counts
}

TEST(Lease, NeverWithoutCheckQuorum) {
  Cluster c(3, 1, [](Config& cfg) { cfg.check_quorum = false; });
  ASSERT_TRUE(c.elect(1));
  c.settle();
  EXPECT_FALSE(c.raft(1).lease_read_ok());
}

// ---- replication flow control ------------------------------------------------------------------

// Fast backtracking: the reject hint skips a whole divergent term in one round trip.
TEST(Replication, RejectHintSkipsDivergentTermInOneRoundTrip) {
  std::vector<uint64_t> leader_log(1, 1), follower_log(1, 1);
  leader_log.insert(leader_log.end(), 50, 3);
  follower_log.insert(follower_log.end(), 100, 2);
  std::map<NodeId, PersistentState> init;
  init[1] = log_with_terms(leader_log, 3);
  init[2] = log_with_terms(follower_log, 3);
  init[3] = log_with_terms(leader_log, 3);
  Cluster c(
      3, 1, [](Config& cfg) { cfg.check_quorum = false; }, init);
  int rejections = 0;
  c.drop = [&](const Message& m) {
    if (m.type == MessageType::kAppResp && m.from == 2 && m.reject) ++rejections;
    return false;
  };
  ASSERT_TRUE(c.elect(1));
  c.settle();
  EXPECT_LE(rejections, 2);
  EXPECT_EQ(c.raft(2).last_index(), c.raft(1).last_index());
  EXPECT_EQ(c.raft(2).log().at(51).term, 3u);
  EXPECT_EQ(c.node(2).truncated.size(), 100u);  // the divergent suffix is reported
  EXPECT_SAFE(c);
}

TEST(Replication, InflightWindowBoundsUnackedMessages) {
  Cluster c(3, 1, [](Config& cfg) {
    cfg.max_inflight_msgs = 4;
    cfg.max_entries_per_msg = 1;
  });
  ASSERT_TRUE(c.elect(1));
  c.settle();
  ASSERT_EQ(c.raft(1).progress().at(2).state, ProgressState::kReplicate);
  int apps_to_2 = 0;
  c.drop = [&](const Message& m) {
    if (m.to != 2) return false;
    if (m.type == MessageType::kApp && !m.entries.empty()) ++apps_to_2;
    return true;  // node 2 hears nothing, so never acks
  };
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(c.propose(1, "x").is_ok());
  c.deliver_all();
  EXPECT_EQ(apps_to_2, 4);
  EXPECT_EQ(c.raft(1).progress().at(2).inflight.count(), 4u);
  EXPECT_EQ(c.raft(1).commit(), c.raft(1).last_index());  // node 3 acks: progress goes on
  c.drop = nullptr;
  c.settle(30);
  EXPECT_EQ(c.raft(2).last_index(), c.raft(1).last_index());
  EXPECT_EQ(c.node(2).sm, c.node(1).sm);
}

// Proposals made between two Readies leave as one App per follower, and the acks of that App
// advance the commit index once: one commit-carrying App per follower, not one per ack.
TEST(Replication, ProposalsBetweenReadiesShareOneAppPerFollower) {
  Cluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.settle();
  std::vector<Message> to_2;
  c.drop = [&](const Message& m) {
    if (m.to == 2 && m.type == MessageType::kApp) to_2.push_back(m);
    return false;
  };
  const uint64_t first = c.raft(1).last_index() + 1;
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(c.raft(1).propose("x" + std::to_string(i)).is_ok());
  c.process(1);
  c.deliver_all();
  ASSERT_EQ(to_2.size(), 2u);
  EXPECT_EQ(to_2[0].entries.size(), 10u);
  EXPECT_EQ(to_2[0].entries.front().index, first);
  EXPECT_TRUE(to_2[1].entries.empty());  // tells the new commit index, once
  EXPECT_EQ(to_2[1].commit, first + 9);
  EXPECT_EQ(c.raft(2).commit(), first + 9);
  EXPECT_EQ(c.node(2).sm, c.node(1).sm);
  EXPECT_SAFE(c);
}

// A follower that takes several Apps before its next Ready acknowledges them with one message
// (acks are cumulative); a rejection in between is never folded into an acceptance.
TEST(Replication, AdjacentAcceptancesCollapseRejectionsStay) {
  Random rng(1);
  Raft r(testing::paper_config(2, {1, 2, 3}), rng);
  auto app = [](uint64_t prev, uint64_t prev_term, uint64_t n) {
    Message m = make_msg(MessageType::kApp, 1, 2, 1);
    m.index = prev;
    m.log_term = prev_term;
    for (uint64_t i = 1; i <= n; ++i)
      m.entries.push_back(Entry{1, prev + i, EntryType::kNormal, "e"});
    return m;
  };
  ASSERT_TRUE(r.step(app(0, 0, 2)).is_ok());
  ASSERT_TRUE(r.step(app(2, 1, 1)).is_ok());
  ASSERT_TRUE(r.step(app(3, 1, 2)).is_ok());
  auto acks = testing::only(testing::drain(r), MessageType::kAppResp);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_FALSE(acks[0].reject);
  EXPECT_EQ(acks[0].index, 5u);

  ASSERT_TRUE(r.step(app(5, 1, 1)).is_ok());
  ASSERT_TRUE(r.step(app(9, 1, 1)).is_ok());  // a gap: rejected
  ASSERT_TRUE(r.step(app(6, 1, 1)).is_ok());
  acks = testing::only(testing::drain(r), MessageType::kAppResp);
  ASSERT_EQ(acks.size(), 3u);
  EXPECT_EQ(acks[0].index, 6u);
  EXPECT_TRUE(acks[1].reject);
  EXPECT_EQ(acks[2].index, 7u);
}

TEST(Replication, ProposalLimitsAndRefusals) {
  Cluster c(3, 1, [](Config& cfg) { cfg.max_uncommitted_entries = 3; });
  ASSERT_TRUE(c.elect(1));
  c.settle();
  EXPECT_EQ(c.raft(2).propose("x").status().code(), Code::kUnavailable);
  c.isolate(1);
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(c.propose(1, "x").is_ok());
  EXPECT_EQ(c.propose(1, "x").status().code(), Code::kResourceExhausted);
}

TEST(Replication, SingleNodeClusterCommitsAlone) {
  Cluster c(1);
  ASSERT_TRUE(c.elect(1));
  auto idx = c.propose(1, "solo");
  ASSERT_TRUE(idx.is_ok());
  EXPECT_EQ(c.raft(1).commit(), *idx);
  EXPECT_EQ(c.node(1).sm.at(*idx), "solo");
  ASSERT_TRUE(c.raft(1).read_index(3).is_ok());
  c.process(1);
  EXPECT_EQ(c.node(1).reads.size(), 1u);
}

// ---- restart and follower reads ----------------------------------------------------------------

TEST(Restart, NodeRecoversTermVoteLogAndCatchesUp) {
  Cluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.settle();
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(c.propose(1, "v" + std::to_string(i)).is_ok());
  c.settle();
  const HardState hs = c.raft(2).hard_state();
  const uint64_t last = c.raft(2).last_index();
  c.crash(2);
  ASSERT_TRUE(c.propose(1, "while-down").is_ok());
  c.settle();
  c.restart(2);
  EXPECT_EQ(c.raft(2).term(), hs.term);
  EXPECT_EQ(c.raft(2).vote(), hs.vote);
  EXPECT_GE(c.raft(2).last_index(), last);
  c.settle();
  EXPECT_EQ(c.node(2).sm, c.node(1).sm);
  EXPECT_SAFE(c);
}

// A follower's freshness runs from the last heartbeat its leader sent while holding its lease
// (then no other leader could have committed past the index it carried), not from any
// contact: a deposed leader that keeps talking to it does not keep it fresh.
TEST(FollowerRead, FreshnessCountsFromHeartbeatsSentUnderTheLease) {
  Cluster c(3);
  EXPECT_EQ(c.raft(2).freshness().ticks, std::numeric_limits<uint64_t>::max());  // never yet
  ASSERT_TRUE(c.elect(1));
  c.settle();
  ASSERT_TRUE(c.propose(1, "x").is_ok());
  c.settle();
  EXPECT_EQ(c.raft(2).freshness().ticks, 0u);
  EXPECT_EQ(c.raft(2).freshness().commit, c.raft(1).commit());
  EXPECT_EQ(c.raft(1).freshness().ticks, 0u);  // a leader holding its lease

  c.tick(2);
  c.tick(2);
  EXPECT_EQ(c.raft(2).freshness().ticks, 2u);
  c.raft(2).skip_ticks(100);  // a pause counts
  EXPECT_EQ(c.raft(2).freshness().ticks, 102u);
  c.tick(1);
  c.settle(1);
  EXPECT_EQ(c.raft(2).freshness().ticks, 0u);

  // Nothing reaches leader 1 any more, but it keeps sending heartbeats to 2. Once its lease
  // is over they still count as contact, but no longer as freshness.
  c.drop = [](const Message& m) { return m.to == 1 || m.to == 3; };
  bool seen = false;
  for (int i = 0; i < 12 && c.raft(1).role() == Role::kLeader; ++i) {
    c.tick(1);
    c.tick(2);
    c.deliver_all();
    if (!c.raft(1).lease_read_ok()) {
      EXPECT_GT(c.raft(1).freshness().ticks, 0u);
      seen |= c.raft(2).ticks_since_leader() == 0 && c.raft(2).freshness().ticks > 0;
    }
  }
  EXPECT_TRUE(seen);
}

// Heartbeats carry the leader's own commit index: a follower whose log lags learns how far
// behind it is even when no append reaches it.
TEST(FollowerRead, HeartbeatsTellTheLeadersCommitIndex) {
  Cluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.settle();
  c.drop = [](const Message& m) { return m.to == 3 && m.type == MessageType::kApp; };
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(c.propose(1, "v" + std::to_string(i)).is_ok());
  c.settle();
  c.tick(1);
  c.settle(1);
  EXPECT_EQ(c.raft(3).freshness().commit, c.raft(1).commit());
  EXPECT_LT(c.raft(3).commit(), c.raft(1).commit());
}

TEST(FollowerRead, ReportsLeaderCommitAndStaleness) {
  Cluster c(3);
  ASSERT_TRUE(c.elect(1));
  c.settle();
  EXPECT_EQ(c.raft(2).leader_commit(), c.raft(1).commit());
  EXPECT_EQ(c.raft(2).ticks_since_leader(), 0u);
  for (int i = 0; i < 3; ++i)
    c.tick(2);
  EXPECT_EQ(c.raft(2).ticks_since_leader(), 3u);
  c.settle(1);
  EXPECT_EQ(c.raft(2).ticks_since_leader(), 0u);
}

}  // namespace
}  // namespace rkv::raft

namespace rkv::raft {
namespace {

// The Ready contract lets the driver keep stepping while it persists a Ready. A conflict that
// arrives meanwhile must still delete the handed-out suffix from disk.
TEST(ReadyContract, ConflictWhileAReadyIsBeingPersistedIsTruncatedOnDisk) {
  MemStorage st;
  Random rnd(1);
  Raft r(testing::paper_config(1, {1, 2, 3}), rnd);
  Message a = make_msg(MessageType::kApp, 2, 1, 1);
  a.entries = testing::make_entries(1, {1, 1, 1, 1});
  ASSERT_TRUE(r.step(a).is_ok());
  Ready rd1 = r.ready();  // entries 1..4 handed out, not yet persisted
  ASSERT_EQ(rd1.entries.size(), 4u);
  Message b = make_msg(MessageType::kApp, 3, 1, 2);
  b.index = 2;
  b.log_term = 1;
  b.entries = testing::make_entries(3, {2});
  ASSERT_TRUE(r.step(b).is_ok());  // replaces 3..4 while rd1 is in flight
  ASSERT_TRUE(persist_ready(st, testing::kGroup, rd1).is_ok());
  r.advance(rd1);
  Ready rd2 = r.ready();
  ASSERT_TRUE(rd2.truncate_from.has_value());
  EXPECT_EQ(*rd2.truncate_from, 3u);
  ASSERT_TRUE(persist_ready(st, testing::kGroup, rd2).is_ok());
  r.advance(rd2);
  auto loaded = load(st, testing::kGroup);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  ASSERT_EQ(loaded->state.entries.size(), 3u);
  EXPECT_EQ(loaded->state.entries[2].term, 2u);
  EXPECT_EQ(r.log().stable(), 3u);
}

}  // namespace
}  // namespace rkv::raft

namespace rkv::raft {
namespace {

// Config::applied lets a node whose state machine is durable skip re-applying on restart.
TEST(Restart, ConfigAppliedSkipsEntriesTheStateMachineAlreadyHolds) {
  PersistentState ps = testing::log_with_terms({1, 1, 1, 1}, 1);
  ps.hard_state.commit = 4;
  for (uint64_t applied : {0u, 3u}) {
    Random rnd(1);
    Config cfg = testing::paper_config(1, {1, 2, 3});
    cfg.applied = applied;
    Raft r(cfg, rnd, ps);
    Ready rd = r.ready();
    ASSERT_EQ(rd.committed_entries.size(), 4 - applied);
    EXPECT_EQ(rd.committed_entries.front().index, applied + 1);
    r.advance(rd);
  }
}

// The Ready reports role changes; pending reads vanish with the leadership, so the node layer
// fails them when it sees the leader step down.
TEST(ReadyContract, SoftStateReportsLeadershipChanges) {
  Cluster c(3);
  ASSERT_TRUE(c.elect(1));
  Ready rd = c.raft(1).ready();  // nothing changed since the harness took the last Ready
  EXPECT_FALSE(rd.soft_state.has_value());
  c.raft(1).advance(rd);
  c.isolate(1);
  ASSERT_TRUE(c.raft(1).read_index(1).is_ok());
  for (int i = 0; i < 2 * c.raft(1).config().election_tick; ++i)
    c.raft(1).tick();
  Ready rd2 = c.raft(1).ready();
  ASSERT_TRUE(rd2.soft_state.has_value());
  EXPECT_EQ(rd2.soft_state->role, Role::kFollower);
  EXPECT_EQ(rd2.soft_state->leader, 0u);
  EXPECT_TRUE(rd2.read_states.empty());
  c.raft(1).advance(rd2);
}

}  // namespace
}  // namespace rkv::raft

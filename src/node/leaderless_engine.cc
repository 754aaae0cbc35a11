#include "node/leaderless_engine.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <algorithm>
#include <set>

#include "core/checksum.h"
#include "core/text.h"
#include "core/varint.h"
#include "node/glob.h"
#include "node/node.h"
#include "node/store.h"
#include "node/wire.h"

namespace rkv {

using leaderless::KeyedObject;
using leaderless::Msg;
using leaderless::MsgType;
using leaderless::WriteKind;
using versions::Sibling;
using versions::Versioned;
using versions::VersionVector;

namespace {

constexpr uint32_t kTreeDepth = 8;           // 256 leaves per token range
constexpr size_t kMaxSyncStartsPerTick = 4;  // REPAIR: comparisons started per tick
constexpr int64_t kHintExpiryEveryMs = 1000;
constexpr int64_t kRelayGraceMs = 500;
constexpr size_t kGcPerTick = 256;
constexpr size_t kMaxSeenRelays =
    65536;  // relayed write ids remembered per peer  // objects the tombstone collector looks at
            // per tick  // a relay waits this much longer than the coordinator

std::vector<std::string> node_ids(const Config& c) {
  std::vector<std::string> ids;
  for (const auto& p : c.nodes)
    ids.push_back(p.id);
  return ids;
}

leaderless::PhiAccrual::Options phi_options(const LeaderlessSettings& s) {
  leaderless::PhiAccrual::Options o;
  // Heartbeats of a node reach us through gossip to random peers: their spacing is irregular
  // around a few gossip periods.
  o.first_interval_ms = static_cast<double>(s.gossip_ms) * 2;
  o.min_std_dev_ms = static_cast<double>(s.gossip_ms);
  o.acceptable_pause_ms = static_cast<double>(s.gossip_ms);
  return o;
}

using versioned::live;
using versioned::visible;

}  // namespace

LeaderlessEngine::LeaderlessEngine(Node* node, uint32_t keyspace, Random* random)
    : node_(node),
      ks_(keyspace),
      name_(node->store_.keyspace(keyspace).config.name),
      random_(random),
      ring_(node_ids(node->config_), node->config_.leaderless.tokens_per_node),
      gossip_(node->self_index_, node->config_.nodes.size(), phi_options(node->config_.leaderless)),
      hlc_(500) {}

LeaderlessEngine::~LeaderlessEngine() = default;

const KeyspaceConfig& LeaderlessEngine::kc() const {
  return node_->store_.keyspace(ks_).config;
}
const LeaderlessSettings& LeaderlessEngine::settings() const {
  return node_->config_.leaderless;
}
uint32_t LeaderlessEngine::self() const {
  return node_->self_index_;
}
int64_t LeaderlessEngine::mono() const {
  return node_->mono_ms();
}
bool LeaderlessEngine::bug(uint32_t b) const {
  return (node_->config_.raft.bugs & b) != 0;
}

bool LeaderlessEngine::up(uint32_t node, int64_t mono_now) const {
  if (node == self()) return true;
  // A peer not heard from yet counts as up for a few gossip periods after this node starts
  // (its first heartbeats are on their way), and as down after that.
  if (!gossip_.known(node)) {
    return mono_now - started_ms_ < 5 * static_cast<int64_t>(settings().gossip_ms);
  }
  return gossip_.state(node, mono_now, settings().phi_threshold) !=
         leaderless::Gossip::State::kDown;
}

const char* LeaderlessEngine::node_state(uint32_t node) const {
  if (node != self() && !gossip_.known(node)) return up(node, mono()) ? "unknown" : "down";
  switch (gossip_.state(node, mono(), settings().phi_threshold)) {
    case leaderless::Gossip::State::kUp:
      return "up";
    case leaderless::Gossip::State::kSuspect:
      return "suspect";
    case leaderless::Gossip::State::kDown:
      return "down";
  }
  return "?";
}

double LeaderlessEngine::node_phi(uint32_t node) const {
  return node == self() ? 0 : gossip_.phi(node, mono());
}

std::string LeaderlessEngine::row_key(std::string_view key) const {
  std::string k;
  k.reserve(name_.size() + key.size() + 2);
  k.push_back('v');
  k.append(name_);
  k.push_back('\0');
  k.append(key);
  return k;
}

std::string LeaderlessEngine::hint_key(uint32_t target, std::string_view key) const {
  std::string k;
  k.reserve(name_.size() + key.size() + 6);
  k.push_back('h');
  k.append(name_);
  k.push_back('\0');
  for (int i = 3; i >= 0; --i)
    k.push_back(static_cast<char>(target >> (8 * i)));
  k.append(key);
  return k;
}

leaderless::MerkleTree* LeaderlessEngine::tree(size_t range) {
  return range < trees_.size() ? trees_[range].get() : nullptr;
}

uint64_t LeaderlessEngine::item_hash(const Slot& slot, const Versioned& obj) const {
  return XXH3_64bits_withSeed(slot.second.data(), slot.second.size(), obj.digest());
}

// --- opening -------------------------------------------------------------------------------

Status LeaderlessEngine::open(int64_t now_ms) {
  // Ranges this node replicates get a Merkle tree.
  trees_.resize(ring_.range_count());
  objects_.assign(ring_.range_count(), Objects{});
  object_count_ = 0;
  std::vector<uint32_t> reps;
  for (size_t r = 0; r < ring_.range_count(); ++r) {
    ring_.range_replicas(r, static_cast<size_t>(kc().n), &reps);
    if (std::find(reps.begin(), reps.end(), self()) != reps.end()) {
      trees_[r] = std::make_unique<leaderless::MerkleTree>(kTreeDepth);
      my_ranges_.push_back(r);
    }
  }
  if (!my_ranges_.empty()) next_range_ = random_->uniform(my_ranges_.size());

  // The actor id: node index plus an epoch drawn anew by every incarnation. A coordinator
  // sends a write to the other replicas while its own copy is still being written; if it
  // crashes before that copy is durable, the replicas hold a dot the restarted node does not
  // know. Under a new epoch it can never issue that dot again (nor can a wiped node). The
  // epoch last used is recorded so the new one differs from it.
  Storage& st = *node_->storage_;
  const std::string epoch_key = "mlactor/" + name_;
  uint64_t previous = 0;
  auto stored = st.get(epoch_key);
  if (stored.is_ok()) {
    std::string_view payload;
    if (!unseal(stored.value(), &payload) || !get_varint(&payload, &previous) ||
        previous > UINT32_MAX) {
      return Status::corruption(fmt::format("keyspace {}: actor epoch record is damaged", name_));
    }
  } else if (stored.status().code() != Code::kNotFound) {
    return stored.status();
  }
  // The next incarnation of this data dir counts up from the last epoch; a new data dir (or a
  // wiped one) starts from a random epoch mixed with the clock, so that it does not retrace
  // another incarnation's epochs even when its random numbers repeat (the simulator restarts a
  // node with the same seed).
  uint32_t epoch = static_cast<uint32_t>(previous + 1);
  if (previous == 0) {
    const uint64_t mixed = XXH3_64bits_withSeed(&now_ms, sizeof now_ms, random_->next());
    epoch = static_cast<uint32_t>(mixed ^ (mixed >> 32));
  }
  if (epoch == 0) epoch = 1;
  {
    std::string payload;
    put_varint(&payload, epoch);
    WriteBatch b;
    b.put(epoch_key, seal(payload));
    RKV_RETURN_IF_ERROR(st.write(b, true));
  }
  // Request ids carry a per-incarnation prefix: a late reply to a request of an earlier
  // incarnation never matches a request of this one.
  next_id_ = (random_->next() | 1) << 32;
  actor_ = (static_cast<uint64_t>(self()) << 32) | epoch;

  // Objects.
  std::string begin = row_key("");
  std::string end = begin;
  end.back() = '\1';
  Status bad;
  uint64_t max_hlc = 0;
  RKV_RETURN_IF_ERROR(st.scan(begin, end, [&](std::string_view k, std::string_view rec) {
    std::string_view key = k.substr(begin.size());
    std::string_view payload;
    Versioned obj;
    if (!unseal(rec, &payload) || !Versioned::decode(&payload, &obj) || !payload.empty()) {
      bad = Status::corruption(fmt::format(
          "stored version of key \"{}\" in leaderless keyspace \"{}\" fails its checksum", key,
          name_));
      return false;
    }
    for (const Sibling& s : obj.siblings())
      max_hlc = std::max(max_hlc, s.hlc);
    Slot slot{leaderless::Ring::hash_key(key), std::string(key)};
    const uint64_t item = item_hash(slot, obj);
    if (auto* t = tree(ring_.range_of(slot.first))) t->toggle(slot.first, item);
    note_mortality(slot, obj);
    Objects& objs = objects_of(slot.first);
    object_count_ += objs.emplace(std::move(slot), Stored{std::move(obj), item, 0}).second;
    return true;
  }));
  RKV_RETURN_IF_ERROR(bad);

  // Hints.
  std::string hbegin = "h" + name_ + std::string(1, '\0');
  std::string hend = hbegin;
  hend.back() = '\1';
  RKV_RETURN_IF_ERROR(st.scan(hbegin, hend, [&](std::string_view k, std::string_view rec) {
    std::string_view rest = k.substr(hbegin.size());
    std::string_view payload;
    uint64_t stored_ms = 0;
    Versioned obj;
    if (rest.size() < 4 || !unseal(rec, &payload) || !get_varint(&payload, &stored_ms) ||
        !Versioned::decode(&payload, &obj) || !payload.empty()) {
      bad = Status::corruption(
          fmt::format("a hint record of leaderless keyspace \"{}\" fails its checksum", name_));
      return false;
    }
    uint32_t target = 0;
    for (int i = 0; i < 4; ++i)
      target = (target << 8) | static_cast<uint8_t>(rest[static_cast<size_t>(i)]);
    if (target >= node_->config_.nodes.size()) return true;  // membership shrank: useless
    HintSet& hs = hints_[target];
    Hint h{std::move(obj), static_cast<int64_t>(stored_ms), rec.size() + rest.size()};
    hs.bytes += h.bytes;
    hs.keys.emplace(std::string(rest.substr(4)), std::move(h));
    return true;
  }));
  RKV_RETURN_IF_ERROR(bad);

  hlc_.restore(max_hlc);
  // Generation: wall-clock start time, so that a restart always looks newer to peers.
  gossip_.start(static_cast<uint64_t>(std::max<int64_t>(now_ms, 1)));
  last_gossip_ = last_sync_start_ = last_expire_ = started_ms_ = mono();
  return Status::ok();
}

// --- client commands -----------------------------------------------------------------------

size_t LeaderlessEngine::needed(std::optional<Consistency> c, bool write,
                                std::string* error) const {
  const size_t n = static_cast<size_t>(kc().n);
  size_t k = 0;
  switch (c.value_or(Consistency::kDefault)) {
    case Consistency::kDefault:
      k = static_cast<size_t>(write ? kc().w : kc().r);
      break;
    case Consistency::kOne:
      k = 1;
      break;
    case Consistency::kTwo:
      k = 2;
      break;
    case Consistency::kThree:
      k = 3;
      break;
    case Consistency::kQuorum:
      k = n / 2 + 1;
      break;
    case Consistency::kAll:
      k = n;
      break;
    case Consistency::kAny:
      if (!write) {
        *error = "ERR CONSISTENCY ANY applies to writes only; reads need at least ONE replica";
        return 0;
      }
      k = 1;
      break;
  }
  if (k > n) {
    *error = fmt::format("ERR CONSISTENCY {} needs {} replicas but keyspace '{}' has n = {}",
                         to_string(*c), k, name_, n);
    return 0;
  }
  return k;
}

Dispatch LeaderlessEngine::execute(const Origin& o, const resp::CommandSpec& spec,
                                   std::span<const std::string_view> args,
                                   const RequestOptions& opts, int64_t now_ms, resp::Writer& w) {
  const bool write = (spec.flags & resp::kWrite) != 0;
  std::string err;
  const size_t k = needed(opts.consistency, write, &err);
  if (k == 0) {
    w.error(err);
    return {};
  }
  const std::optional<Op> op = versioned::command_of(spec.id);
  if (!op) {
    w.error(versioned::refusal(spec, fmt::format("leaderless keyspace '{}'", name_)));
    return {};
  }
  if (*op == Op::kSet || *op == Op::kDel) return start_write(o, *op, args, k, now_ms, w);
  return start_read(o, *op, args.subspan(1), k, now_ms);
}

Dispatch LeaderlessEngine::start_read(const Origin& o, Op op,
                                      std::span<const std::string_view> keys, size_t need,
                                      int64_t now_ms) {
  const int64_t m = mono();
  const uint64_t cid = next_id();
  Client& c = clients_[cid];
  c.origin = o;
  c.op = op;
  c.parts_left = keys.size();
  c.results.resize(keys.size());
  ++stats_.reads;
  std::vector<uint32_t> walk;
  for (size_t i = 0; i < keys.size(); ++i) {
    const uint64_t h = leaderless::Ring::hash_key(keys[i]);
    ring_.walk(h, &walk);
    const size_t n = std::min<size_t>(static_cast<size_t>(kc().n), walk.size());
    ReadReq r;
    r.client = cid;
    r.part = i;
    r.key.assign(keys[i]);
    r.needed = need;
    size_t up_count = 0;
    for (size_t j = 0; j < n; ++j) {
      // A replica the failure detector holds down is not asked: it would not answer in time,
      // and requests queued for it cost the live nodes while it is away.
      if (walk[j] != self() && !up(walk[j], m)) continue;
      r.asked.push_back(walk[j]);
      ++up_count;
    }
    // Sloppy: when home replicas are down, the next nodes on the ring may hold their writes.
    for (size_t j = n; kc().sloppy && j < walk.size() && up_count < n; ++j) {
      if (up(walk[j], m)) {
        r.asked.push_back(walk[j]);
        ++up_count;
      }
    }
    if (up_count < need) {
      ++stats_.unavailable;
      part_done(cid, i, std::nullopt,
                fmt::format("UNAVAILABLE only {} of the {} replicas needed for key '{}' are up",
                            up_count, need, keys[i]));
      continue;
    }
    r.deadline = m + static_cast<int64_t>(settings().request_timeout_ms);
    const uint64_t rid = next_id();
    Msg msg;
    msg.type = MsgType::kRead;
    msg.id = rid;
    msg.key = r.key;
    r.start_wall = now_ms;
    bool own = false;
    for (uint32_t node : r.asked) {
      if (node == self()) {
        own = true;
      } else {
        send(node, msg);
      }
    }
    reads_.emplace(rid, std::move(r));
    if (own) {  // this replica's answer, once what it holds of the key is durable
      uint64_t token = 0;
      Versioned obj = read_local(msg.key, &token);
      answer_read(self(), rid, msg.key, std::move(obj), token);
    }
  }
  return {Dispatch::kDeferred, 0};
}

Dispatch LeaderlessEngine::start_write(const Origin& o, Op op,
                                       std::span<const std::string_view> args, size_t need,
                                       int64_t now_ms, resp::Writer& w, uint64_t stamp) {
  // Parse first: a malformed command changes nothing.
  versioned::Write parsed;
  std::string error;
  if (!versioned::parse_write(op, args, now_ms, node_->config_.limits.max_value_len,
                              fmt::format("leaderless keyspace '{}'", name_), &parsed, &error)) {
    w.error(error);
    return {};
  }
  Sibling s = std::move(parsed.sibling);
  s.hlc = stamp;
  const VersionVector ctx = std::move(parsed.context);
  std::vector<std::string_view> keys;
  if (op == Op::kSet) {
    keys.push_back(args[1]);
  } else {
    keys.assign(args.begin() + 1, args.end());
  }
  const uint64_t cid = next_id();
  Client& c = clients_[cid];
  c.origin = o;
  c.op = op;
  c.parts_left = keys.size();
  c.results.resize(keys.size());
  std::vector<uint32_t> homes;
  const int64_t m = mono();
  for (size_t i = 0; i < keys.size(); ++i) {
    ring_.preference_list(leaderless::Ring::hash_key(keys[i]), static_cast<size_t>(kc().n), &homes);
    if (std::find(homes.begin(), homes.end(), self()) != homes.end()) {
      coordinate_write(cid, i, keys[i], s, ctx, need, now_ms);
      continue;
    }
    // Not a replica of this key: versions are issued by replicas, so relay the write to the
    // first home replica that is up.
    // The first home replica the failure detector sees fully up (not even suspect) and that
    // answers relays promptly, else the first one not down; a relay names the incarnation it
    // is meant for, so it must be known.
    auto home = std::find_if(homes.begin(), homes.end(), [&](uint32_t h) {
      return gossip_.known(h) &&
             gossip_.state(h, m, settings().phi_threshold) == leaderless::Gossip::State::kUp &&
             !slow_relay_target(h, m);
    });
    if (home == homes.end()) {
      home = std::find_if(homes.begin(), homes.end(),
                          [&](uint32_t h) { return gossip_.known(h) && up(h, m); });
    }
    if (home == homes.end()) {
      ++stats_.unavailable;
      part_done(cid, i, std::nullopt,
                fmt::format("UNAVAILABLE no replica of key '{}' is up; the write was not applied",
                            keys[i]));
      continue;
    }
    std::vector<std::string_view> one;
    if (op == Op::kSet) {
      one.assign(args.begin(), args.end());
    } else {
      one = {args[0], keys[i]};
    }
    Origin sub;
    sub.client_id = cid;
    sub.seq = i;
    relay_write(sub, one, need, *home);
  }
  return {Dispatch::kDeferred, 0};
}

bool LeaderlessEngine::slow_relay_target(uint32_t node, int64_t mono_now) const {
  const int64_t slow =
      std::max<int64_t>(20, static_cast<int64_t>(settings().request_timeout_ms) / 20);
  for (const auto& [id, r] : relays_) {
    if (r.to == node && mono_now - r.sent > slow) return true;
  }
  return false;
}

void LeaderlessEngine::relay_write(const Origin& o, std::span<const std::string_view> args,
                                   size_t need, uint32_t to) {
  ++stats_.relayed;
  const uint64_t id = next_id();
  relays_[id] = Relay{
      o, mono() + static_cast<int64_t>(settings().request_timeout_ms) + kRelayGraceMs, to, mono()};
  Msg m;
  m.type = MsgType::kCoordinate;
  m.id = id;
  m.generation = gossip_.entry(to).generation;  // the incarnation of `to` this node knows
  m.stamp = hlc_.now(node_->last_now_ms_);
  m.consistency = static_cast<uint8_t>(need);  // the number of acknowledgements needed
  m.proto = 2;
  m.args.assign(args.begin(), args.end());
  send(to, m);
}

void LeaderlessEngine::coordinate_write(uint64_t client, size_t part, std::string_view key,
                                        Sibling s, const VersionVector& ctx, size_t need,
                                        int64_t now_ms) {
  const int64_t m = mono();
  const uint64_t h = leaderless::Ring::hash_key(key);
  std::vector<uint32_t> walk;
  ring_.walk(h, &walk);
  const size_t n = std::min<size_t>(static_cast<size_t>(kc().n), walk.size());
  WriteReq r;
  r.client = client;
  r.part = part;
  r.key.assign(key);
  r.needed = need;
  r.homes.assign(walk.begin(), walk.begin() + static_cast<std::ptrdiff_t>(n));
  size_t possible = 1;  // this node
  size_t next_fallback = n;
  for (size_t j = 0; j < n; ++j) {
    const uint32_t home = walk[j];
    if (home == self()) continue;
    if (up(home, m) || !kc().sloppy) {
      r.targets.push_back(Target{home});
      possible += up(home, m) ? 1 : 0;
      continue;
    }
    while (next_fallback < walk.size() && !up(walk[next_fallback], m))
      ++next_fallback;
    if (next_fallback < walk.size()) {
      r.targets.push_back(Target{walk[next_fallback++], static_cast<int32_t>(home)});
      ++possible;
    }
  }
  r.next_fallback = next_fallback;
  if (possible < need) {
    ++stats_.unavailable;
    part_done(client, part, std::nullopt,
              fmt::format("UNAVAILABLE only {} of the {} replicas needed for key '{}' are up; "
                          "the write was not applied",
                          possible, need, key));
    return;
  }
  ++stats_.writes;
  Slot slot{h, std::string(key)};
  const Objects& objs = objects_of(h);
  auto it = objs.find(slot);
  Versioned obj = it != objs.end() ? it->second.obj : Versioned{};
  Client& c = clients_[client];
  if (c.op == Op::kDel && visible(obj, now_ms)) ++c.existed;
  // The write's clock reading is above every version it replaces, whatever the clocks of the
  // nodes that wrote them: LWW must never prefer a version over one that causally follows it.
  // A relayed write keeps the clock reading of when its client sent it: if it reaches its
  // coordinator late (a paused process, a held connection), it does not win over the writes
  // acknowledged meanwhile.
  s.hlc = versioned::stamp_above(obj, s.hlc != 0 ? s.hlc : hlc_.now(now_ms));
  // A write without CONTEXT replaces what this replica holds (a plain Redis SET overwrites);
  // only writes that meet at different replicas are concurrent. With CONTEXT (siblings mode)
  // it replaces exactly the versions the client read. Under LWW a context is not taken: it
  // could name versions this replica never saw, whose clock readings it cannot be above.
  VersionVector seen = obj.context();
  if (!ctx.empty() && kc().conflict != ConflictMode::kLww) seen = ctx;
  // Above every dot this replica issued for keys it has since forgotten (collected): a key
  // forgotten here may come back from a peer with a context that does not name them, and a
  // dot must never be issued twice.
  obj.update(actor_, seen, std::move(s), dot_floor_ + 1);
  keep_lww(&obj);
  uint64_t token = 0;
  r.obj = obj;
  store_object(slot, std::move(obj), &token);
  r.deadline = m + static_cast<int64_t>(settings().request_timeout_ms);
  const uint64_t id = next_id();
  Msg msg;
  msg.type = MsgType::kWrite;
  msg.id = id;
  msg.key = r.key;
  msg.object = r.obj;
  for (const Target& t : r.targets) {
    msg.kind = t.hint_for >= 0 ? WriteKind::kHint : WriteKind::kReplica;
    msg.hint_for = t.hint_for;
    send(t.node, msg);
  }
  writes_.emplace(id, std::move(r));
  ack_after(token, -1, id, true);
}

// Sloppy quorum: a replica refused to store a write (it cannot write: a full disk), so it is
// treated as down for this write: the next live node along the key's ring walk that is not
// already holding the write stands in, holding it as a hint for the home replica.
void LeaderlessEngine::stand_in(uint64_t id, WriteReq& r, size_t refused) {
  const int64_t m = mono();
  const Target& t = r.targets[refused];
  const uint32_t home = t.hint_for >= 0 ? static_cast<uint32_t>(t.hint_for) : t.node;
  std::vector<uint32_t> walk;
  ring_.walk(leaderless::Ring::hash_key(r.key), &walk);
  auto taken = [&](uint32_t node) {
    if (node == self()) return true;
    for (const Target& o : r.targets)
      if (o.node == node) return true;
    return false;
  };
  while (r.next_fallback < walk.size() &&
         (taken(walk[r.next_fallback]) || !up(walk[r.next_fallback], m))) {
    ++r.next_fallback;
  }
  if (r.next_fallback >= walk.size()) return;
  const uint32_t node = walk[r.next_fallback++];
  r.targets.push_back(Target{node, static_cast<int32_t>(home)});
  ++stats_.refusals_redirected;
  Msg msg;
  msg.type = MsgType::kWrite;
  msg.kind = WriteKind::kHint;
  msg.id = id;
  msg.key = r.key;
  msg.object = r.obj;
  msg.hint_for = static_cast<int32_t>(home);
  send(node, msg);
}

void LeaderlessEngine::check_write(uint64_t id, WriteReq& r) {
  if (!r.replied && r.acks >= r.needed) {
    r.replied = true;
    part_done(r.client, r.part, std::nullopt, "");
  }
  // Replicas refused the write (they cannot write: a full disk) and too few are left to reach
  // W: fail now rather than at the deadline. What was stored stays and spreads; the homes not
  // covered get hints when the request ends, as after a timeout.
  size_t unanswered = r.self_acked ? 0 : 1, refused = 0;
  uint32_t refuser = 0;
  for (const Target& t : r.targets) {
    unanswered += t.acked ? 0 : 1;
    if (t.refused && refused++ == 0) refuser = t.node;
  }
  if (!r.replied && refused > 0 && r.acks + unanswered < r.needed) {
    r.replied = true;
    ++stats_.writes_refused;
    part_done(r.client, r.part, std::nullopt,
              fmt::format("REFUSED the write of key '{}' cannot reach the {} replicas it needs: node "
                          "{} refused it (it cannot write at the moment){}; {} stored it so far, "
                          "and it may still reach the others (hints, read repair, anti-entropy)",
                          r.key, r.needed, refuser,
                          kc().sloppy ? " and no other node could stand in" : "", r.acks));
  }
  // Every replica answered: the request ends. Homes that refused (and no stand-in covered)
  // get their hint now rather than at the deadline.
  if (unanswered == 0) {
    if (refused > 0) hint_uncovered(r, node_->last_now_ms_);
    writes_.erase(id);
  }
}

// Home replicas that never stored a write (themselves or through a fallback) get a hint held
// here, replayed when they answer again.
void LeaderlessEngine::hint_uncovered(const WriteReq& r, int64_t now_ms) {
  for (uint32_t home : r.homes) {
    if (home == self()) continue;
    bool covered = false;
    for (const Target& t : r.targets) {
      covered |=
          t.acked && !t.refused && (t.node == home || t.hint_for == static_cast<int32_t>(home));
    }
    uint64_t token = 0;
    if (!covered) store_hint(home, r.key, r.obj, now_ms, &token);
  }
}

void LeaderlessEngine::check_read(uint64_t id, ReadReq& r, int64_t now_ms) {
  // Blocking repair: an answer whose replica refused its repair (it cannot write) does not
  // count toward R (its versions stay in what the read returns); the read waits for the other
  // replicas asked, and fails when too few are left.
  const size_t usable = r.answers.size() - r.refused_repair.size();
  if (!r.replied && r.repairs_left == 0 &&
      usable + (r.asked.size() - r.answers.size()) < r.needed) {
    r.replied = true;
    ++stats_.repairs_refused;
    part_done(r.client, r.part, std::nullopt,
              fmt::format("TRYAGAIN node {} refused the read repair of key '{}' (it cannot write "
                          "at the moment), and too few other replicas answered; what the read "
                          "found is not yet on the replicas it needs, so it is not returned",
                          r.refused_repair.front(), r.key));
  }
  if (!r.replied && r.repairs_left == 0 && usable >= r.needed) {
    if (kc().read_repair == ReadRepair::kBlocking || r.merged.empty()) {
      for (auto& [node, obj] : r.answers)
        r.merged.merge(obj);
      keep_lww(&r.merged);
      if (kc().read_repair != ReadRepair::kOff) {
        repair(r, id, kc().read_repair == ReadRepair::kBlocking);
        if (r.repairs_left > 0) return;  // blocking: the reply waits for the repair
      }
    }
    if (r.answers.size() - r.refused_repair.size() < r.needed) return;  // refused: wait
    r.replied = true;
    r.shown = r.merged;
    part_done(r.client, r.part, r.merged, "");
  }
  if (r.replied && r.repairs_left == 0 && r.answers.size() == r.asked.size()) {
    judge_freshness(r);
    reads_.erase(id);
  }
}

void LeaderlessEngine::judge_freshness(const ReadReq& r) {
  int64_t newest = INT64_MIN;
  for (const Sibling& s : r.all.siblings())
    newest = std::max(newest, versions::hlc_wall_ms(s.hlc));
  if (newest == INT64_MIN) return;  // nothing written: nothing to be stale about
  const int64_t t = r.start_wall - newest;
  size_t b = 0;
  while (b < std::size(kFreshnessBoundsMs) && t > kFreshnessBoundsMs[b])
    ++b;
  ++freshness_.judged[b];
  if (r.shown.covers(r.all)) ++freshness_.fresh[b];
}

void LeaderlessEngine::repair(ReadReq& r, uint64_t read_id, bool blocking) {
  Msg msg;
  msg.type = MsgType::kWrite;
  msg.kind = WriteKind::kRepair;
  msg.key = r.key;
  for (auto& [node, obj] : r.answers) {
    if (obj.covers(r.merged)) continue;
    // Broken variant: repair with the stale copy the replica already has.
    msg.object = bug(kBugRepairWritesOlder) ? obj : r.merged;
    obj = r.merged;  // repaired (or being repaired): not sent twice
    ++stats_.read_repairs;
    if (node == self() && blocking && !node_->write_refusal().empty()) {
      r.refused_repair.push_back(self());
      continue;
    }
    msg.id = next_id();
    if (node == self()) {
      // Blocking: this replica's repair counts once it is durable, as a peer's would (never
      // at once from here: the read is still being walked).
      uint64_t token = 0;
      merge_local(r.key, msg.object, &token);
      if (token == 0) token = node_->last_token();
      if (blocking && token > node_->durable_token()) {
        repair_acks_[msg.id] = read_id;
        ++r.repairs_left;
        after_durable_.push_back(AfterDurable{token, -1, msg.id, true});
      }
      continue;
    }
    if (blocking) {
      repair_acks_[msg.id] = read_id;
      ++r.repairs_left;
    }
    send(node, msg);
  }
}

void LeaderlessEngine::part_done(uint64_t client, size_t part, std::optional<Versioned> result,
                                 std::string error) {
  auto it = clients_.find(client);
  if (it == clients_.end()) return;
  Client& c = it->second;
  if (!error.empty() && c.error.empty()) c.error = std::move(error);
  if (result) c.results[part] = std::move(result);
  if (--c.parts_left == 0) finish_client(client, c, node_->last_now_ms_);
}

void LeaderlessEngine::finish_client(uint64_t id, Client& c, int64_t now_ms) {
  std::string out;
  resp::Writer w(&out, c.origin.proto);
  if (!c.error.empty()) {
    w.error(c.error);
  } else {
    switch (c.op) {
      case Op::kGet:
      case Op::kMget:
      case Op::kExists:
      case Op::kTtl:
      case Op::kPttl:
      case Op::kSiblings:
        versioned::reply_read(
            c.op, c.results.size(),
            [&](size_t i) { return c.results[i] ? &*c.results[i] : nullptr; }, now_ms, w);
        break;
      case Op::kSet:
        w.ok();
        break;
      case Op::kDel:
        w.integer(c.existed);
        break;
    }
  }
  reply(c.origin, std::move(out));
  clients_.erase(id);
}

void LeaderlessEngine::reply(const Origin& o, std::string bytes) {
  if (o.peer >= 0) {  // a relayed write: the answer goes back to the relaying node
    Msg m;
    m.type = MsgType::kCoordinateReply;
    m.id = o.forward_id;
    m.payload = std::move(bytes);
    send(static_cast<uint32_t>(o.peer), m);
    return;
  }
  node_->deliver(o, std::move(bytes));
}

// --- replica side --------------------------------------------------------------------------

void LeaderlessEngine::keep_lww(Versioned* obj) {
  if (kc().conflict != ConflictMode::kLww || obj->siblings().size() <= 1) return;
  // Every replica counts the concurrent versions it discards, so no write is dropped without
  // being counted; a write lost where the versions met at several replicas is counted by each.
  stats_.lww_discarded += obj->resolve_lww();
}

Versioned LeaderlessEngine::read_local(std::string_view key, uint64_t* token) const {
  Slot slot{leaderless::Ring::hash_key(key), std::string(key)};
  const Objects& objs = objects_of(slot.first);
  auto it = objs.find(slot);
  Versioned out = it != objs.end() ? it->second.obj : Versioned{};
  uint64_t t = it != objs.end() ? it->second.token : 0;
  for (const auto& [target, hs] : hints_) {
    auto h = hs.keys.find(slot.second);
    if (h != hs.keys.end()) {
      out.merge(h->second.obj);
      t = std::max(t, h->second.token);
    }
  }
  if (token) *token = t;
  return out;
}

void LeaderlessEngine::answer_read(uint32_t to, uint64_t id, std::string_view key, Versioned obj,
                                   uint64_t token) {
  HeldAnswer a{token, to, id, std::string(key), std::move(obj)};
  if (token <= node_->durable_token()) return send_answer(std::move(a));
  held_answers_.push_back(std::move(a));
}

void LeaderlessEngine::send_answer(HeldAnswer a) {
  Msg r;
  r.type = MsgType::kReadReply;
  r.id = a.id;
  r.key = std::move(a.key);
  r.object = std::move(a.obj);
  if (a.to == self()) return on_read_reply(self(), r, node_->last_now_ms_);
  send(a.to, r);
}

const Versioned* LeaderlessEngine::local_object(std::string_view key) const {
  const uint64_t h = leaderless::Ring::hash_key(key);
  const Objects& objs = objects_of(h);
  auto it = objs.find(Slot{h, std::string(key)});
  return it != objs.end() ? &it->second.obj : nullptr;
}

size_t LeaderlessEngine::hint_count() const {
  size_t n = 0;
  for (const auto& [t, hs] : hints_)
    n += hs.keys.size();
  return n;
}

void LeaderlessEngine::store_object(const Slot& slot, Versioned obj, uint64_t* token) {
  if (bug(kBugTombstoneForgotten)) {
    bool all_tomb = !obj.siblings().empty();
    for (const Sibling& s : obj.siblings())
      all_tomb &= s.tombstone;
    if (all_tomb) {  // broken: a deleted key is forgotten, not remembered as deleted
      Objects& objs = objects_of(slot.first);
      auto it = objs.find(slot);
      if (it != objs.end()) {
        if (auto* t = tree(ring_.range_of(slot.first))) t->toggle(slot.first, it->second.item);
        objs.erase(it);
        --object_count_;
      }
      node_->pending_.batch.del(row_key(slot.second));
      *token = node_->new_token();
      return;
    }
  }
  stats_.max_siblings = std::max<uint64_t>(stats_.max_siblings, obj.siblings().size());
  std::string rec;
  seal_begin(&rec);
  obj.encode(&rec);
  seal_end(&rec);
  node_->pending_.batch.put_owned(row_key(slot.second), std::move(rec));
  *token = node_->new_token();
  note_mortality(slot, obj);
  const size_t range = ring_.range_of(slot.first);
  auto* t = tree(range);
  Objects& objs = objects_[range];
  const uint64_t item = item_hash(slot, obj);
  auto it = objs.find(slot);
  if (it == objs.end()) {
    if (t) t->toggle(slot.first, item);
    objs.emplace(slot, Stored{std::move(obj), item, *token});
    ++object_count_;
  } else {
    if (t) t->replace(slot.first, it->second.item, item);
    it->second = Stored{std::move(obj), item, *token};
  }
}

bool LeaderlessEngine::merge_local(std::string_view key, const Versioned& incoming,
                                   uint64_t* token) {
  Slot slot{leaderless::Ring::hash_key(key), std::string(key)};
  const Objects& objs = objects_of(slot.first);
  auto it = objs.find(slot);
  if (it != objs.end() && it->second.obj.covers(incoming)) return false;
  if (it == objs.end() && !forgotten_.empty()) {
    // A tombstone this node collected, coming back from a replica that has not collected it
    // yet: taking it again would only start the wait over (and send it back and forth).
    auto f = forgotten_.find(slot);
    if (f != forgotten_.end() && f->second.first.covers(incoming)) return false;
  }
  Versioned obj = it != objs.end() ? it->second.obj : Versioned{};
  obj.merge(incoming);
  keep_lww(&obj);
  if (it != objs.end() && obj == it->second.obj) return false;
  store_object(slot, std::move(obj), token);
  return true;
}

bool LeaderlessEngine::store_hint(uint32_t target, std::string_view key, const Versioned& obj,
                                  int64_t now_ms, uint64_t* token) {
  HintSet& hs = hints_[target];
  auto it = hs.keys.find(std::string(key));
  // A hint lives hint_window_ms from when it was first stored. A write that joins a hint past
  // half its life starts it afresh instead (what it held is dropped, and counted): the write
  // just acknowledged always has half a window before it can expire.
  if (it != hs.keys.end() &&
      now_ms - it->second.stored_ms > static_cast<int64_t>(settings().hint_window_ms / 2)) {
    ++stats_.hints_dropped_window;
    hs.bytes -= it->second.bytes;
    hs.keys.erase(it);
    it = hs.keys.end();
  }
  Versioned merged = it != hs.keys.end() ? it->second.obj : Versioned{};
  merged.merge(obj);
  std::string rec;
  seal_begin(&rec);
  const int64_t stored_ms = it != hs.keys.end() ? it->second.stored_ms : now_ms;
  put_varint(&rec, static_cast<uint64_t>(stored_ms));
  merged.encode(&rec);
  seal_end(&rec);
  const size_t bytes = rec.size() + key.size() + 4;
  const size_t old_bytes = it != hs.keys.end() ? it->second.bytes : 0;
  if (hs.bytes - old_bytes + bytes > settings().max_hint_bytes) {
    ++stats_.hints_dropped_bytes;  // anti-entropy covers what is dropped here
    return false;
  }
  if (bug(kBugHintDropped)) return true;  // broken: acknowledged but not kept
  hs.bytes = hs.bytes - old_bytes + bytes;
  node_->pending_.batch.put_owned(hint_key(target, key), std::move(rec));
  *token = node_->new_token();
  hs.keys[std::string(key)] = Hint{std::move(merged), stored_ms, bytes, *token};
  ++stats_.hints_stored;
  return true;
}

void LeaderlessEngine::erase_hint(uint32_t target, std::string_view key) {
  auto hs = hints_.find(target);
  if (hs == hints_.end()) return;
  auto it = hs->second.keys.find(std::string(key));
  if (it == hs->second.keys.end()) return;
  hs->second.bytes -= it->second.bytes;
  hs->second.keys.erase(it);
  node_->pending_.batch.del(hint_key(target, key));
  node_->new_token();
}

void LeaderlessEngine::ack_after(uint64_t token, int32_t peer, uint64_t id, bool ok) {
  if (token == 0) token = node_->last_token();  // an earlier batch may still hold the state
  if (token <= node_->durable_token()) return acknowledge(AfterDurable{token, peer, id, ok});
  after_durable_.push_back(AfterDurable{token, peer, id, ok});
}

void LeaderlessEngine::acknowledge(const AfterDurable& a) {
  if (a.peer < 0) return on_write_ack(self(), a.id, a.ok);
  Msg m;
  m.type = MsgType::kWriteAck;
  m.id = a.id;
  m.ok = a.ok;
  send(static_cast<uint32_t>(a.peer), m);
}

void LeaderlessEngine::on_persisted(uint64_t token, int64_t /*now_ms*/) {
  while (!after_durable_.empty() && after_durable_.front().token <= token) {
    AfterDurable a = after_durable_.front();
    after_durable_.pop_front();
    acknowledge(a);
  }
  while (!held_answers_.empty() && held_answers_.front().token <= token) {
    HeldAnswer a = std::move(held_answers_.front());
    held_answers_.pop_front();
    send_answer(std::move(a));
  }
  flush();
}

void LeaderlessEngine::on_write_ack(uint32_t from, uint64_t id, bool ok) {
  if (auto it = writes_.find(id); it != writes_.end()) {
    WriteReq& r = it->second;
    if (from == self()) {
      ++r.acks;
      r.self_acked = true;
    } else {
      for (size_t i = 0; i < r.targets.size(); ++i) {
        Target& t = r.targets[i];
        if (t.node == from && !t.acked) {
          t.acked = true;
          t.refused = !ok;
          if (ok) {
            ++r.acks;
          } else if (kc().sloppy) {
            stand_in(id, r, i);
          }
          break;
        }
      }
    }
    check_write(id, r);
    return;
  }
  if (auto it = repair_acks_.find(id); it != repair_acks_.end()) {
    const uint64_t read_id = it->second;
    repair_acks_.erase(it);
    auto rit = reads_.find(read_id);
    if (rit != reads_.end() && rit->second.repairs_left > 0) {
      --rit->second.repairs_left;
      if (!ok) rit->second.refused_repair.push_back(from);
      check_read(read_id, rit->second, node_->last_now_ms_);
    }
    return;
  }
  if (auto it = handoffs_.find(id); it != handoffs_.end()) {
    Handoff ho = std::move(it->second);
    handoffs_.erase(it);
    auto hs = hints_.find(ho.target);
    if (hs == hints_.end()) return;
    auto h = hs->second.keys.find(ho.key);
    if (ok && h != hs->second.keys.end() && h->second.obj.digest() == ho.digest) {
      erase_hint(ho.target, ho.key);  // delivered (a newer hint for the key stays)
      ++stats_.hints_delivered;
    }
    bool more = false;
    for (const auto& [hid, other] : handoffs_)
      more |= other.target == ho.target;
    if (!more) hs->second.in_flight = false;
  }
}

void LeaderlessEngine::on_read_reply(uint32_t from, Msg& m, int64_t now_ms) {
  auto it = reads_.find(m.id);
  if (it == reads_.end()) return;
  ReadReq& r = it->second;
  if (std::find(r.asked.begin(), r.asked.end(), from) == r.asked.end()) return;
  for (const auto& [node, obj] : r.answers) {
    if (node == from) return;  // a duplicate
  }
  r.all.merge(m.object);
  r.answers.emplace_back(from, std::move(m.object));
  if (r.replied && kc().read_repair != ReadRepair::kOff) {
    // A late answer: bring it up to what the reply showed, and learn what it adds.
    auto& [node, obj] = r.answers.back();
    r.merged.merge(obj);
    keep_lww(&r.merged);
    if (!obj.covers(r.merged) && node == self()) {
      uint64_t token = 0;
      merge_local(r.key, r.merged, &token);
      ++stats_.read_repairs;
    } else if (!obj.covers(r.merged)) {
      Msg w;
      w.type = MsgType::kWrite;
      w.kind = WriteKind::kRepair;
      w.id = next_id();
      w.key = r.key;
      w.object = bug(kBugRepairWritesOlder) ? obj : r.merged;
      ++stats_.read_repairs;
      send(node, w);
    }
  }
  check_read(m.id, r, now_ms);
}

void LeaderlessEngine::on_peer_message(uint32_t from, std::string_view body, int64_t now_ms) {
  std::string_view name;
  if (!peek_engine_keyspace(body, &name)) return;
  body.remove_prefix(static_cast<size_t>(name.data() - body.data()) + name.size());
  std::vector<std::string_view> parts;
  const bool whole = leaderless::split_batch(body, &parts);
  for (std::string_view part : parts) {
    Msg m;
    if (!leaderless::decode(part, &m) || !m.object.well_formed()) {
      ++stats_.bad_messages;
      ++node_->bad_peer_messages_;
      continue;
    }
    handle(from, m, now_ms);
  }
  if (!whole) {
    ++stats_.bad_messages;
    ++node_->bad_peer_messages_;
  }
}

namespace {
constexpr size_t kListPart = 4096;  // objects per kListReply
}

void LeaderlessEngine::handle(uint32_t from, Msg& m, int64_t now_ms) {
  for (const Sibling& s : m.object.siblings())
    hlc_.observe(s.hlc, now_ms);
  switch (m.type) {
    case MsgType::kWrite: {
      if (!node_->write_refusal().empty()) {
        // This node cannot make writes durable (a full disk): refused at once, rather than
        // held in memory unacknowledged for as long as that lasts. The coordinator counts the
        // refusal; read repair and anti-entropy bring this replica up to date afterwards.
        if (m.kind != WriteKind::kSync) {
          acknowledge(AfterDurable{0, static_cast<int32_t>(from), m.id, false});
        }
        return;
      }
      uint64_t token = 0;
      bool ok = true;
      if (m.kind == WriteKind::kHint && m.hint_for >= 0 &&
          static_cast<uint32_t>(m.hint_for) != self()) {
        if (static_cast<size_t>(m.hint_for) >= node_->config_.nodes.size()) {
          ++stats_.bad_messages;
          return;
        }
        ok = store_hint(static_cast<uint32_t>(m.hint_for), m.key, m.object, now_ms, &token);
      } else {
        merge_local(m.key, m.object, &token);
      }
      if (m.kind != WriteKind::kSync) ack_after(token, static_cast<int32_t>(from), m.id, ok);
      return;
    }
    case MsgType::kWriteAck:
      return on_write_ack(from, m.id, m.ok);
    case MsgType::kRead: {
      uint64_t token = 0;
      Versioned obj = read_local(m.key, &token);
      return answer_read(from, m.id, m.key, std::move(obj), token);
    }
    case MsgType::kReadReply:
      return on_read_reply(from, m, now_ms);
    case MsgType::kGossip: {
      std::vector<leaderless::GossipEntry> entries;
      if (!leaderless::Gossip::decode(m.payload, &entries)) {
        ++stats_.bad_messages;
        return;
      }
      gossip_.on_digest(from, entries, mono());
      if (m.id == 1) {  // push-pull: answer a push with what we know (no answer to an answer)
        Msg r;
        r.type = MsgType::kGossip;
        r.id = 0;
        leaderless::Gossip::encode(gossip_.digest(), &r.payload);
        send(from, r);
      }
      return;
    }
    case MsgType::kCoordinate: {
      // A write relayed by a node that is not a replica of its key; m.consistency carries the
      // number of acknowledgements the client asked for.
      Origin o;
      o.peer = static_cast<int32_t>(from);
      o.forward_id = m.id;
      o.proto = 2;
      // Run it at most once: a duplicate delivery is dropped (the first one answers), and a
      // relay addressed to an earlier incarnation of this node (which may have run it before
      // a restart) is refused rather than run again.
      if (m.generation != gossip_.entry(self()).generation) {
        std::string out;
        resp::Writer(&out, 2).error(
            "TIMEOUT the replica that coordinates this key restarted; the relayed write's "
            "outcome is unknown");
        return reply(o, std::move(out));
      }
      hlc_.observe(m.stamp, now_ms);
      SeenRelays& seen = seen_relays_[from];
      if (!seen.ids.insert(m.id).second) return;
      seen.order.push_back(m.id);
      if (seen.order.size() > kMaxSeenRelays) {
        seen.ids.erase(seen.order.front());
        seen.order.pop_front();
      }
      std::vector<std::string_view> args(m.args.begin(), m.args.end());
      const resp::CommandSpec* spec = resp::lookup_command(args[0]);
      std::string out;
      resp::Writer w(&out, 2);
      if (!node_->write_refusal().empty()) {
        w.error(node_->write_refusal());
        return reply(o, std::move(out));
      }
      const size_t need = std::clamp<size_t>(m.consistency, 1, static_cast<size_t>(kc().n));
      if (!spec || !resp::arity_ok(*spec, args.size()) ||
          (spec->id != resp::CommandId::kSet && spec->id != resp::CommandId::kDel) ||
          args.size() < 2 || node_->store_.route(args[1]) != ks_) {
        w.error("ERR malformed relayed write");
        return reply(o, std::move(out));
      }
      Dispatch d = start_write(o, spec->id == resp::CommandId::kSet ? Op::kSet : Op::kDel, args,
                               need, now_ms, w, m.stamp);
      if (d.kind != Dispatch::kDeferred) reply(o, std::move(out));
      return;
    }
    case MsgType::kCoordinateReply: {
      auto it = relays_.find(m.id);
      if (it == relays_.end()) return;
      Origin sub = it->second.origin;
      relays_.erase(it);
      // The relayed part's reply: +OK, :n or -error (RESP2).
      std::string_view p = m.payload;
      while (!p.empty() && (p.back() == '\n' || p.back() == '\r'))
        p.remove_suffix(1);
      auto cit = clients_.find(sub.client_id);
      if (cit == clients_.end()) return;
      if (p.starts_with("-")) {
        part_done(sub.client_id, sub.seq, std::nullopt, std::string(p.substr(1)));
      } else {
        int64_t n = 0;
        if (p.starts_with(":") && parse_int64(p.substr(1), &n)) cit->second.existed += n;
        part_done(sub.client_id, sub.seq, std::nullopt, "");
      }
      return;
    }
    case MsgType::kSyncRequest:
      return on_sync_request(from, m);
    case MsgType::kSyncResponse:
      return on_sync_objects(from, m, false);
    case MsgType::kSyncPush:
      return on_sync_objects(from, m, true);
    case MsgType::kList: {
      if (m.range != leaderless::kAllRanges && m.range >= ring_.range_count()) {
        ++stats_.bad_messages;
        return;
      }
      std::vector<KeyedObject> objs;
      collect_listing(m.range, m.payload, &objs);
      Msg r;
      r.type = MsgType::kListReply;
      r.id = m.id;
      size_t at = 0;
      do {  // in parts, the last one marked (an empty listing is one empty last part)
        const size_t end = std::min(objs.size(), at + kListPart);
        r.objects.assign(std::make_move_iterator(objs.begin() + static_cast<std::ptrdiff_t>(at)),
                         std::make_move_iterator(objs.begin() + static_cast<std::ptrdiff_t>(end)));
        r.ok = end == objs.size();
        send(from, r);
        at = end;
      } while (at < objs.size());
      return;
    }
    case MsgType::kListReply: {
      auto it = lists_.find(m.id);
      if (it == lists_.end() || !it->second.waiting.count(from)) return;
      take_listing(it->second, m.objects);
      if (m.ok) {
        it->second.waiting.erase(from);
        it->second.answered.insert(from);
        if (it->second.waiting.empty()) finish_list(m.id, now_ms);
      }
      return;
    }
    case MsgType::kBatch:  // never decoded as one message (split_batch)
      return;
  }
}

void LeaderlessEngine::send(uint32_t to, const Msg& m) {
  // Gathered per peer and sent once per round (flush): one payload, however many requests,
  // acknowledgements and replies go to that peer.
  Outbox& box = outbox_[to];
  if (box.count == 0) {
    box.payload.push_back(kPeerLeaderless);
    put_engine_header(&box.payload, name_);
  }
  leaderless::append_to_batch(m, &box.payload, &box.count);
}

void LeaderlessEngine::flush() {
  for (auto& [to, box] : outbox_) {
    if (box.count == 0) continue;
    node_->send_peer(PeerSend{to, std::move(box.payload)});
    box.payload = std::string();
    box.count = 0;
  }
}

// --- time ----------------------------------------------------------------------------------

void LeaderlessEngine::tick(int64_t now_ms) {
  const int64_t m = mono();
  if (m - last_gossip_ >= static_cast<int64_t>(settings().gossip_ms)) {
    last_gossip_ = m;
    gossip(now_ms);
  }
  expire_requests(now_ms);
  if (m - last_expire_ >= kHintExpiryEveryMs) {
    last_expire_ = m;
    expire_hints(now_ms);
  }
  handoff(now_ms);
  anti_entropy(now_ms);
  collect_tombstones(now_ms);
  flush();
}

// A tombstone (or a value past its expiry) may go only when no replica can bring back what it
// replaced: every other replica of its range was found in sync with this node after this node
// held it (so each holds the tombstone or something newer), and this node has held it longer
// than the grace period and than any hint still allowed to carry an older version. Times are
// this node's own protocol clock (when it first saw the object dead, when each sync finished):
// other nodes' clocks, which may be skewed, never enter. A replica down across the grace period
// is never found in sync, so its ranges keep their tombstones until it returns.
void LeaderlessEngine::collect_tombstones(int64_t now_ms) {
  if (gc_candidates_.empty() && forgotten_.empty()) return;
  const int64_t hold = std::max<int64_t>(
      static_cast<int64_t>(settings().tombstone_grace_ms),
      static_cast<int64_t>(settings().hint_window_ms + settings().request_timeout_ms));
  const int64_t m = mono();
  std::vector<uint32_t> reps;
  auto c = gc_candidates_.lower_bound(gc_cursor_);
  for (size_t n = 0; n < kGcPerTick && !gc_candidates_.empty(); ++n) {
    if (c == gc_candidates_.end()) {
      c = gc_candidates_.begin();
      if (n > 0) break;  // one lap at most per call
    }
    Objects& objs = objects_of(c->first.first);
    auto it = objs.find(c->first);
    if (it == objs.end()) {
      c = gc_candidates_.erase(c);
      continue;
    }
    const Versioned& o = it->second.obj;
    bool dead = !o.siblings().empty();
    for (const Sibling& sib : o.siblings())
      dead &= !live(sib, now_ms);
    int64_t& since = c->second;  // when this node first saw it dead (0: not yet)
    if (!dead || since == 0) {
      since = dead ? m : 0;
      ++c;
      continue;
    }
    bool synced = m - since > hold;
    if (synced) {
      const size_t range = ring_.range_of(it->first.first);
      ring_.range_replicas(range, static_cast<size_t>(kc().n), &reps);
      for (uint32_t p : reps) {
        if (p == self()) continue;
        auto s = last_sync_.find({range, p});
        synced &= s != last_sync_.end() && s->second > since;
      }
    }
    if (!synced) {
      ++c;
      continue;
    }
    if (auto* t = tree(ring_.range_of(it->first.first)))
      t->toggle(it->first.first, it->second.item);
    node_->pending_.batch.del(row_key(it->first.second));
    dot_floor_ = std::max(dot_floor_, o.context().get(actor_));
    node_->new_token();
    ++stats_.tombstones_collected;
    // Remembered while the other replicas collect it too (each waits at most a hold and an
    // anti-entropy round after it synced with this one).
    const int64_t remember = 2 * hold + 2 * static_cast<int64_t>(settings().anti_entropy_ms);
    forgotten_[it->first] = {std::move(it->second.obj), m + remember};
    objs.erase(it);
    --object_count_;
    c = gc_candidates_.erase(c);
  }
  gc_cursor_ = c == gc_candidates_.end() ? Slot{} : c->first;
  for (auto f = forgotten_.begin(); f != forgotten_.end();) {
    f = f->second.second <= m ? forgotten_.erase(f) : std::next(f);
  }
}

void LeaderlessEngine::note_mortality(const Slot& slot, const Versioned& obj) {
  bool mortal = false;
  for (const Sibling& sib : obj.siblings())
    mortal |= sib.tombstone || sib.expire_at_ms != 0;
  if (mortal) {
    gc_candidates_[slot] = 0;  // changed: its time dead counts from the collector's next look
  } else if (!gc_candidates_.empty()) {
    gc_candidates_.erase(slot);
  }
}

void LeaderlessEngine::gossip(int64_t /*now_ms*/) {
  if (node_->config_.nodes.size() < 2) return;
  std::vector<leaderless::GossipEntry> entries = gossip_.beat();
  Msg m;
  m.type = MsgType::kGossip;
  m.id = 1;  // a push: the peer answers with its digest
  leaderless::Gossip::encode(entries, &m.payload);
  send(gossip_.pick_peer(random_->next()), m);
}

void LeaderlessEngine::expire_requests(int64_t now_ms) {
  const int64_t m = mono();
  std::vector<uint64_t> overdue;
  for (const auto& [id, l] : lists_) {
    if (l.deadline <= m) overdue.push_back(id);
  }
  for (uint64_t id : overdue)
    finish_list(id, now_ms);  // with the replicas that answered, if they cover every range
  for (auto it = writes_.begin(); it != writes_.end();) {
    WriteReq& r = it->second;
    if (r.deadline > m) {
      ++it;
      continue;
    }
    if (!r.replied) {
      if (bug(kBugTimeoutCountsAsAck)) {
        r.replied = true;
        part_done(r.client, r.part, std::nullopt, "");
      } else {
        ++stats_.write_timeouts;
        r.replied = true;
        part_done(r.client, r.part, std::nullopt,
                  fmt::format("TIMEOUT only {} of the {} replicas needed acknowledged the write "
                              "within {} ms; it is stored on those and may still reach the "
                              "others (hints, read repair, anti-entropy)",
                              r.acks, r.needed, settings().request_timeout_ms));
      }
    }
    hint_uncovered(r, now_ms);
    it = writes_.erase(it);
  }
  for (auto it = reads_.begin(); it != reads_.end();) {
    ReadReq& r = it->second;
    if (r.deadline > m) {
      ++it;
      continue;
    }
    if (!r.replied) {
      ++stats_.read_timeouts;
      r.replied = true;
      if (r.answers.size() >= r.needed) {
        // Blocking repair did not finish: what the read found is not known to be on the
        // replicas a later read asks, so it is not returned.
        part_done(r.client, r.part, std::nullopt,
                  fmt::format("TIMEOUT the read of key '{}' could not write what it found back "
                              "to the replicas it read within {} ms (blocking read repair)",
                              r.key, settings().request_timeout_ms));
      } else {
        part_done(r.client, r.part, std::nullopt,
                  fmt::format("TIMEOUT only {} of the {} replicas needed answered the read within "
                              "{} ms",
                              r.answers.size(), r.needed, settings().request_timeout_ms));
      }
    }
    it = reads_.erase(it);
  }
  for (auto it = repair_acks_.begin(); it != repair_acks_.end();) {
    it = reads_.count(it->second) ? std::next(it) : repair_acks_.erase(it);
  }
  for (auto it = relays_.begin(); it != relays_.end();) {
    if (it->second.deadline > m) {
      ++it;
      continue;
    }
    Origin sub = it->second.origin;
    it = relays_.erase(it);
    part_done(sub.client_id, sub.seq, std::nullopt,
              "TIMEOUT the replica that coordinates this key did not answer in time; the write's "
              "outcome is unknown");
  }
}

void LeaderlessEngine::expire_hints(int64_t now_ms) {
  const int64_t window = static_cast<int64_t>(settings().hint_window_ms);
  for (auto& [target, hs] : hints_) {
    std::vector<std::string> old;
    for (const auto& [key, h] : hs.keys) {
      if (now_ms - h.stored_ms > window) old.push_back(key);
    }
    for (const auto& key : old) {
      erase_hint(target, key);
      ++stats_.hints_dropped_window;  // anti-entropy covers what is dropped here
    }
  }
}

void LeaderlessEngine::handoff(int64_t /*now_ms*/) {
  const int64_t m = mono();
  for (auto& [target, hs] : hints_) {
    if (hs.keys.empty()) continue;
    if (hs.in_flight) {
      if (hs.in_flight_deadline > m) continue;
      for (auto it = handoffs_.begin(); it != handoffs_.end();) {
        it = it->second.target == target ? handoffs_.erase(it) : std::next(it);
      }
      hs.in_flight = false;
    }
    if (!up(target, m) ||
        gossip_.state(target, m, settings().phi_threshold) != leaderless::Gossip::State::kUp) {
      continue;
    }
    // One batch in flight per target: the next leaves when this one is acknowledged, so a
    // returning node receives hints at the pace it stores them.
    size_t sent = 0;
    Msg msg;
    msg.type = MsgType::kWrite;
    msg.kind = WriteKind::kHandoff;
    for (const auto& [key, h] : hs.keys) {
      if (sent == settings().handoff_batch) break;
      msg.id = next_id();
      msg.key = key;
      msg.object = h.obj;
      handoffs_[msg.id] = Handoff{target, key, h.obj.digest()};
      send(target, msg);
      ++sent;
    }
    hs.in_flight = true;
    hs.in_flight_deadline = m + static_cast<int64_t>(settings().request_timeout_ms);
  }
}

// --- key listings --------------------------------------------------------------------------

void LeaderlessEngine::list(uint64_t listing, std::string pattern, uint32_t range, int64_t now_ms) {
  RKV_ASSERT(range == leaderless::kAllRanges || range < ring_.range_count());
  const uint64_t id = next_id();
  ListReq& l = lists_[id];
  l.listing = listing;
  l.pattern = std::move(pattern);
  l.range = range;
  const int64_t m = mono();
  l.deadline = m + static_cast<int64_t>(settings().request_timeout_ms);
  // Ask every node that replicates a range in question and is up; this one answers at once.
  std::vector<uint32_t> askees;
  if (range == leaderless::kAllRanges) {
    for (uint32_t n = 0; n < node_->config_.nodes.size(); ++n)
      askees.push_back(n);
  } else {
    ring_.range_replicas(range, static_cast<size_t>(kc().n), &askees);
  }
  Msg msg;
  msg.type = MsgType::kList;
  msg.id = id;
  msg.range = range;
  msg.payload = l.pattern;
  for (uint32_t n : askees) {
    if (n == self() || !up(n, m)) continue;
    l.waiting.insert(n);
    send(n, msg);
  }
  std::vector<KeyedObject> mine;
  collect_listing(range, l.pattern, &mine);
  take_listing(l, mine);
  l.answered.insert(self());
  if (l.waiting.empty()) finish_list(id, now_ms);
}

void LeaderlessEngine::collect_listing(uint32_t range, std::string_view pattern,
                                       std::vector<KeyedObject>* out) const {
  const bool all = pattern.empty() || pattern == "*";
  auto visit = [&](const Objects& objs) {
    for (const auto& [slot, stored] : objs) {
      // Dead versions go too: a replica's tombstone must win over another's stale value.
      if (all || glob_match(pattern, slot.second))
        out->push_back(KeyedObject{slot.second, stored.obj.without_values()});
    }
  };
  if (range == leaderless::kAllRanges) {
    for (const Objects& objs : objects_)
      visit(objs);
  } else if (range < objects_.size()) {
    visit(objects_[range]);
  }
}

void LeaderlessEngine::take_listing(ListReq& l, std::vector<KeyedObject>& objects) {
  for (KeyedObject& ko : objects) {
    auto [it, fresh] = l.merged.try_emplace(std::move(ko.key), std::move(ko.object));
    if (!fresh) it->second.merge(ko.object);
  }
}

void LeaderlessEngine::finish_list(uint64_t id, int64_t now_ms) {
  auto it = lists_.find(id);
  if (it == lists_.end()) return;
  ListReq l = std::move(it->second);
  lists_.erase(it);
  // Every range asked about must have been listed by R of its replicas: a key acknowledged at
  // W is then seen by at least one of them whenever R + W > N.
  const size_t need = std::min<size_t>(static_cast<size_t>(kc().r), static_cast<size_t>(kc().n));
  std::vector<uint32_t> reps;
  const size_t first = l.range == leaderless::kAllRanges ? 0 : l.range;
  const size_t last = l.range == leaderless::kAllRanges ? ring_.range_count() : l.range + 1;
  for (size_t r = first; r < last; ++r) {
    ring_.range_replicas(r, static_cast<size_t>(kc().n), &reps);
    size_t got = 0;
    for (uint32_t p : reps)
      got += l.answered.count(p);
    if (got < need) {
      node_->listed(l.listing, {},
                    fmt::format("UNAVAILABLE the keys of keyspace '{}' could be listed from only "
                                "{} of the {} replicas needed for one of its ranges within {} "
                                "ms; the listing would be incomplete",
                                name_, got, need, settings().request_timeout_ms));
      return;
    }
  }
  std::vector<std::string> keys;
  for (auto& [key, obj] : l.merged) {
    if (visible(obj, now_ms)) keys.push_back(key);
  }
  std::sort(keys.begin(), keys.end());
  node_->listed(l.listing, std::move(keys), "");
}

// --- anti-entropy --------------------------------------------------------------------------

void LeaderlessEngine::start_repair() {
  std::vector<uint32_t> reps;
  for (size_t r : my_ranges_) {
    ring_.range_replicas(r, static_cast<size_t>(kc().n), &reps);
    for (uint32_t p : reps) {
      if (p != self()) repair_queue_.emplace_back(r, p);
    }
  }
}

void LeaderlessEngine::anti_entropy(int64_t /*now_ms*/) {
  const int64_t m = mono();
  // A comparison whose answer was lost is forgotten after the request timeout, so the pair can
  // be compared again.
  for (auto it = sync_deadlines_.begin(); it != sync_deadlines_.end();) {
    if (it->second > m && syncs_.count(it->first)) {
      ++it;
      continue;
    }
    syncs_.erase(it->first);
    it = sync_deadlines_.erase(it);
  }
  for (size_t i = 0; i < kMaxSyncStartsPerTick && !repair_queue_.empty(); ++i) {
    auto [range, peer] = repair_queue_.front();
    repair_queue_.pop_front();
    if (up(peer, m)) sync_with(range, peer);
  }
  if (my_ranges_.empty() || node_->config_.nodes.size() < 2) return;
  // Every range is compared with one other replica per anti_entropy_ms, spread evenly.
  const int64_t every = std::max<int64_t>(1, static_cast<int64_t>(settings().anti_entropy_ms) /
                                                 static_cast<int64_t>(my_ranges_.size()));
  if (m - last_sync_start_ < every) return;
  last_sync_start_ = m;
  const size_t range = my_ranges_[next_range_++ % my_ranges_.size()];
  std::vector<uint32_t> reps;
  ring_.range_replicas(range, static_cast<size_t>(kc().n), &reps);
  std::vector<uint32_t> peers;
  for (uint32_t p : reps) {
    if (p != self() && up(p, m)) peers.push_back(p);
  }
  if (peers.empty()) return;
  sync_with(range, peers[random_->uniform(peers.size())]);
}

void LeaderlessEngine::sync_with(size_t range, uint32_t peer) {
  leaderless::MerkleTree* t = tree(range);
  if (!t) return;
  for (const auto& [id, rp] : syncs_) {
    if (rp.first == range && rp.second == peer) return;  // already comparing
  }
  Msg m;
  m.type = MsgType::kSyncRequest;
  m.id = next_id();
  m.range = static_cast<uint32_t>(range);
  m.leaf_hashes.resize(t->leaf_count());
  for (uint32_t i = 0; i < t->leaf_count(); ++i)
    m.leaf_hashes[i] = t->node_hash(t->depth(), i);
  syncs_[m.id] = {range, peer};
  sync_deadlines_[m.id] = mono() + static_cast<int64_t>(settings().request_timeout_ms);
  ++stats_.sync_rounds;
  send(peer, m);
}

void LeaderlessEngine::collect_leaves(size_t range, const std::vector<uint32_t>& leaves,
                                      std::vector<KeyedObject>* out) const {
  const leaderless::MerkleTree* t = range < trees_.size() ? trees_[range].get() : nullptr;
  if (!t || leaves.empty()) return;
  std::set<uint32_t> wanted(leaves.begin(), leaves.end());
  for (const auto& [slot, stored] : objects_[range]) {
    if (wanted.count(t->leaf_of(slot.first))) out->push_back(KeyedObject{slot.second, stored.obj});
  }
}

void LeaderlessEngine::on_sync_request(uint32_t from, const Msg& m) {
  leaderless::MerkleTree* t = tree(m.range);
  Msg r;
  r.type = MsgType::kSyncResponse;
  r.id = m.id;
  r.range = m.range;
  if (t && m.leaf_hashes.size() == t->leaf_count()) {
    for (uint32_t i = 0; i < t->leaf_count(); ++i) {
      if (t->node_hash(t->depth(), i) != m.leaf_hashes[i]) r.leaves.push_back(i);
    }
    collect_leaves(m.range, r.leaves, &r.objects);
  }
  for (const auto& ko : r.objects)
    stats_.sync_bytes += ko.key.size() + ko.object.siblings().size() * 32;
  stats_.sync_keys += r.objects.size();
  if (t && r.leaves.empty()) note_in_sync(m.range, from);
  send(from, r);
}

void LeaderlessEngine::note_in_sync(size_t range, uint32_t peer) {
  last_sync_[{range, peer}] = mono();
}

void LeaderlessEngine::on_sync_objects(uint32_t from, Msg& m, bool push) {
  if (m.range >= trees_.size() || !trees_[m.range]) return;
  std::vector<uint32_t> reps;
  ring_.range_replicas(m.range, static_cast<size_t>(kc().n), &reps);
  if (std::find(reps.begin(), reps.end(), from) == reps.end()) {
    ++stats_.bad_messages;  // not a replica of that range: its objects do not belong here
    return;
  }
  if (!push) {
    auto it = syncs_.find(m.id);
    if (it == syncs_.end() || it->second != std::pair<size_t, uint32_t>(m.range, from)) {
      return;
    }
    syncs_.erase(it);
    sync_deadlines_.erase(m.id);
  }
  // Our side first, as it was before taking theirs: the peer needs what it lacks.
  Msg back;
  if (!push && !m.leaves.empty()) {
    back.type = MsgType::kSyncPush;
    back.id = m.id;
    back.range = m.range;
    back.leaves = m.leaves;
    collect_leaves(m.range, m.leaves, &back.objects);
  }
  for (const auto& ko : m.objects) {
    if (ring_.range_of(leaderless::Ring::hash_key(ko.key)) != m.range) continue;
    uint64_t token = 0;
    merge_local(ko.key, ko.object, &token);
  }
  if (push) note_in_sync(m.range, from);  // the exchange it started is complete
  if (!push) {
    if (m.leaves.empty()) {
      ++stats_.sync_equal;
    } else {
      for (const auto& ko : back.objects)
        stats_.sync_bytes += ko.key.size() + ko.object.siblings().size() * 32;
      stats_.sync_keys += back.objects.size();
      send(from, back);
    }
    note_in_sync(m.range, from);
  }
}

// --- status --------------------------------------------------------------------------------

void LeaderlessEngine::describe(std::vector<std::pair<std::string, std::string>>* out,
                                int64_t /*now_ms*/) const {
  auto add = [&](std::string f, auto v) { out->emplace_back(std::move(f), fmt::format("{}", v)); };
  add("model", "leaderless");
  add("n", kc().n);
  add("r", kc().r);
  add("w", kc().w);
  add("sloppy", kc().sloppy ? "true" : "false");
  add("read_repair", to_string(kc().read_repair));
  add("conflict", to_string(kc().conflict));
  add("objects", object_count_);
  add("hints", hint_count());
  add("writes_coordinated", stats_.writes);
  add("reads_coordinated", stats_.reads);
  add("writes_relayed", stats_.relayed);
  add("write_timeouts", stats_.write_timeouts);
  add("read_timeouts", stats_.read_timeouts);
  add("unavailable", stats_.unavailable);
  add("lww_discarded", stats_.lww_discarded);
  add("max_siblings", stats_.max_siblings);
  add("read_repairs", stats_.read_repairs);
  add("repairs_refused", stats_.repairs_refused);
  add("writes_refused", stats_.writes_refused);
  add("refusals_redirected", stats_.refusals_redirected);
  add("hints_stored", stats_.hints_stored);
  add("hints_delivered", stats_.hints_delivered);
  add("hints_dropped_window", stats_.hints_dropped_window);
  add("hints_dropped_bytes", stats_.hints_dropped_bytes);
  add("sync_rounds", stats_.sync_rounds);
  add("sync_equal", stats_.sync_equal);
  add("sync_keys", stats_.sync_keys);
  add("sync_bytes", stats_.sync_bytes);
  add("tombstones_collected", stats_.tombstones_collected);
  // The longest any of this node's ranges has gone without being found in sync with every
  // other replica (-1: some range never was yet).
  int64_t worst = 0;
  const int64_t m = mono();
  std::vector<uint32_t> reps;
  for (size_t r : my_ranges_) {
    ring_.range_replicas(r, static_cast<size_t>(kc().n), &reps);
    for (uint32_t p : reps) {
      if (p == self()) continue;
      auto it = last_sync_.find({r, p});
      worst = it == last_sync_.end() || worst < 0 ? -1 : std::max(worst, m - it->second);
    }
  }
  add("ms_since_ranges_in_sync", worst);
  for (uint32_t i = 0; i < node_->config_.nodes.size(); ++i) {
    if (i == self()) continue;
    add(fmt::format("node_{}", node_->config_.nodes[i].id), node_state(i));
    add(fmt::format("node_{}_phi", node_->config_.nodes[i].id), fmt::format("{:.2f}", node_phi(i)));
  }
}

}  // namespace rkv

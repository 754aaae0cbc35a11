#include "node/multileader_engine.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <algorithm>
#include <cmath>

#include "core/checksum.h"
#include "core/text.h"
#include "core/varint.h"
#include "node/node.h"
#include "node/store.h"
#include "node/store_util.h"
#include "node/wire.h"
#include "node/zset_index.h"

namespace rkv {

using multileader::AppliedVector;
using multileader::Item;
using multileader::Msg;
using multileader::MsgType;

namespace {

// Stored rows, under 'M' <keyspace> '\0' <kind>:
//   'i'             this keyspace's actor on this node (varint)
//   'a'             the applied vector (encode_applied), as of the batch that wrote it
//   'o' <u64 BE>    an entry of this node's origin log (encode_log_record)
//   'k' <key>       a key's stamp: hlc, actor, seq, tomb (varints)
//   'c' <key>, 'e' ... conflict = crdt: a key's convergent object (head, cells)
//   'v' <key>       conflict = siblings: a key's versions (Versioned encoding)
constexpr size_t kGcStepItems = 1024;              // tombstones looked at per collector round
constexpr int64_t kMaxRetransmitBackoffMs = 5000;  // longest wait between retransmissions

std::string be64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i) {
    s[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return s;
}

uint64_t from_be64(std::string_view s) {
  uint64_t v = 0;
  for (char c : s)
    v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

bool newer(uint64_t hlc_a, uint64_t actor_a, uint64_t hlc_b, uint64_t actor_b) {
  return hlc_a != hlc_b ? hlc_a > hlc_b : actor_a > actor_b;
}

// Reports every change to the node's sink and remembers which keys a command changed.
class CaptureSink final : public ChangeSink {
 public:
  explicit CaptureSink(ChangeSink& inner) : inner_(inner) {}
  void on_put(uint32_t ks, std::string_view key, const Value& v) override {
    inner_.on_put(ks, key, v);
    note(key);
  }
  void on_erase(uint32_t ks, std::string_view key, ValueType t) override {
    inner_.on_erase(ks, key, t);
    note(key);
  }
  void on_element(uint32_t ks, std::string_view key, std::string_view e,
                  const std::string* v) override {
    inner_.on_element(ks, key, e, v);
    note(key);
  }
  void on_clear(uint32_t ks) override { inner_.on_clear(ks); }
  const std::vector<std::string>& keys() const { return keys_; }

 private:
  void note(std::string_view key) {
    if (std::find(keys_.begin(), keys_.end(), key) == keys_.end()) keys_.emplace_back(key);
  }
  ChangeSink& inner_;
  std::vector<std::string> keys_;
};

}  // namespace

MultiLeaderEngine::MultiLeaderEngine(Node* node, uint32_t keyspace, Random* random)
    : node_(node),
      ks_(keyspace),
      name_(node->store_.keyspace(keyspace).config.name),
      random_(random),
      hlc_(static_cast<int64_t>(node->config_.multileader.max_clock_skew_ms)),
      peers_(node->config_.nodes.size()),
      stability_(node->config_.nodes.size()) {
  crdt_ = kc().conflict == ConflictMode::kCrdt;
  siblings_ = kc().conflict == ConflictMode::kSiblings;
}

MultiLeaderEngine::~MultiLeaderEngine() = default;

const KeyspaceConfig& MultiLeaderEngine::kc() const {
  return node_->store_.keyspace(ks_).config;
}
const MultiLeaderSettings& MultiLeaderEngine::settings() const {
  return node_->config_.multileader;
}
uint32_t MultiLeaderEngine::self() const {
  return node_->self_index_;
}
int64_t MultiLeaderEngine::mono() const {
  return node_->mono_ms();
}
bool MultiLeaderEngine::bug(uint32_t b) const {
  return (node_->config_.raft.bugs & b) != 0;
}

std::string MultiLeaderEngine::row(char kind, std::string_view rest) const {
  std::string k;
  k.reserve(name_.size() + rest.size() + 3);
  k.push_back('M');
  k.append(name_);
  k.push_back('\0');
  k.push_back(kind);
  k.append(rest);
  return k;
}

std::string MultiLeaderEngine::log_row(uint64_t seq) const {
  return row('o', be64(seq));
}

uint64_t MultiLeaderEngine::batch_token() {
  return node_->new_token();
}

// --- opening -------------------------------------------------------------------------------

Status MultiLeaderEngine::open(int64_t now_ms) {
  Storage& st = *node_->storage_;
  // The actor: this node's identity in every stamp and origin log of the keyspace. Kept for
  // the life of the data dir (a restart resumes its log); a new or wiped data dir draws a new
  // one, so it never reissues a (actor, seq) its peers already hold.
  auto stored = st.get(row('i', ""));
  if (stored.is_ok()) {
    std::string_view payload;
    if (!unseal(stored.value(), &payload) || !get_varint(&payload, &actor_) || actor_ == 0) {
      return Status::corruption(fmt::format("keyspace {}: actor record is damaged", name_));
    }
  } else if (stored.status().code() != Code::kNotFound) {
    return stored.status();
  } else {
    const uint64_t mixed = XXH3_64bits_withSeed(&now_ms, sizeof now_ms, random_->next());
    uint32_t epoch = static_cast<uint32_t>(mixed ^ (mixed >> 32));
    if (epoch == 0) epoch = 1;
    actor_ = (static_cast<uint64_t>(self()) << 32) | epoch;
    std::string payload;
    put_varint(&payload, actor_);
    WriteBatch b;
    b.put(row('i', ""), seal(payload));
    RKV_RETURN_IF_ERROR(st.write(b, true));
  }

  // Every row of one kind: `fn(rest of the row key, unsealed payload)`, false when they do not
  // parse (the start fails, naming `what`).
  auto scan_rows = [&](char kind, std::string_view what, auto&& fn) -> Status {
    const std::string begin = row(kind, "");
    std::string end = begin;
    ++end.back();
    Status bad;
    RKV_RETURN_IF_ERROR(st.scan(begin, end, [&](std::string_view k, std::string_view rec) {
      std::string_view payload;
      if (!unseal(rec, &payload) || !fn(k.substr(begin.size()), payload)) {
        bad = Status::corruption(
            fmt::format("multi-leader keyspace \"{}\": {} fails its checksum", name_, what));
        return false;
      }
      return true;
    }));
    return bad;
  };
  // The applied vector.
  auto applied = st.get(row('a', ""));
  if (applied.is_ok()) {
    std::string_view payload;
    if (!unseal(applied.value(), &payload) ||
        !multileader::decode_applied(payload, &durable_applied_)) {
      return Status::corruption(
          fmt::format("multi-leader keyspace \"{}\": applied vector is damaged", name_));
    }
    for (const auto& [a, s] : durable_applied_)
      applied_[a] = s;
  } else if (applied.status().code() != Code::kNotFound) {
    return applied.status();
  }
  own_seq_ = applied_[actor_];

  // Stamps.
  uint64_t max_hlc = 0;
  RKV_RETURN_IF_ERROR(
      scan_rows('k', "a key's stamp", [&](std::string_view key, std::string_view payload) {
        Meta m;
        uint64_t tomb = 0;
        if (!get_varint(&payload, &m.hlc) || !get_varint(&payload, &m.actor) ||
            !get_varint(&payload, &m.seq) || !get_varint(&payload, &tomb) || tomb > 1 ||
            !payload.empty()) {
          return false;
        }
        m.tomb = tomb == 1;
        max_hlc = std::max(max_hlc, m.hlc);
        const bool absent = !node_->store_.keyspace(ks_).table.find(key);
        if (m.tomb) ++tombstones_;
        if (!siblings_ && (m.tomb || absent)) {
          pending_gc_.push_back(Pending{std::string(key), m.hlc, m.actor, m.seq, mono(), {}});
        }
        meta_.emplace(std::string(key), m);
        return true;
      }));
  // Convergent objects (conflict = "crdt"): a head row (type and expiry) and a row per cell.
  RKV_RETURN_IF_ERROR(scan_rows(
      'c', "a key's convergent object", [&](std::string_view key, std::string_view payload) {
        return objects_[std::string(key)].decode_head(&payload) && payload.empty();
      }));
  RKV_RETURN_IF_ERROR(scan_rows(
      'e', "an element of a key's convergent object",
      [&](std::string_view rest, std::string_view payload) {
        uint64_t len = 0;
        versions::Cell cell;
        if (!get_varint(&rest, &len) || len + 1 > rest.size() ||
            !versions::Cell::decode(&payload, &cell) || !payload.empty()) {
          return false;
        }
        const auto t = static_cast<uint8_t>(rest[len]);
        objects_[std::string(rest.substr(0, len))].cells[t][std::string(rest.substr(len + 1))] =
            std::move(cell);
        return true;
      }));
  // Versions of keys (conflict = "siblings"); a key with a dead sibling waits for the collector.
  std::vector<std::string> loaded;
  RKV_RETURN_IF_ERROR(
      scan_rows('v', "a key's versions", [&](std::string_view key, std::string_view payload) {
        versions::Versioned obj;
        if (!versions::Versioned::decode(&payload, &obj) || !payload.empty()) return false;
        for (const versions::Sibling& s : obj.siblings())
          max_hlc = std::max(max_hlc, s.hlc);
        if (obj.siblings().size() > 1) ++multi_sibling_keys_;
        auto m = meta_.find(key);
        const bool dead = std::any_of(obj.siblings().begin(), obj.siblings().end(),
                                      [&](const auto& s) { return !versioned::live(s, now_ms); });
        if (m != meta_.end() && (dead || obj.siblings().empty())) {
          pending_gc_.push_back(
              Pending{std::string(key), m->second.hlc, m->second.actor, m->second.seq, mono(), {}});
        }
        versioned_.emplace(std::string(key), std::move(obj));
        loaded.emplace_back(key);
        return true;
      }));
  // The origin log.
  RKV_RETURN_IF_ERROR(
      scan_rows('o', "an origin-log entry", [&](std::string_view rest, std::string_view payload) {
        Item it;
        if (rest.size() != 8 || !multileader::decode_log_record(payload, actor_, &it) ||
            it.seq != from_be64(rest) || (!log_.empty() && it.seq != log_.back().seq + 1)) {
          return false;
        }
        append_log(it.seq, std::string(payload), 0);
        return true;
      }));
  if (!log_.empty() && log_.back().seq > own_seq_) {
    // Entries written with a batch whose applied vector did not make it: the log is the truth.
    own_seq_ = log_.back().seq;
    applied_[actor_] = own_seq_;
    applied_dirty_ = true;
  }
  log_first_ = log_.empty() ? own_seq_ + 1 : log_.front().seq;
  hlc_.restore(max_hlc);

  // Keys stored before this keyspace replicated (a node's data dir from a single-node run):
  // they join this node's log, so that its peers learn them.
  std::vector<std::string> unstamped;
  node_->store_.keyspace(ks_).table.for_each([&](const KeyTable::Entry& e) {
    if (!meta_.contains(e.key.view())) unstamped.emplace_back(e.key.view());
  });
  std::sort(unstamped.begin(), unstamped.end());
  for (const std::string& key : unstamped) {
    if (siblings_) {
      // A string becomes a write of this node; other types have no versioned form and stay
      // local (the siblings commands do not read them).
      const KeyTable::Entry* e = node_->store_.keyspace(ks_).table.find(key);
      if (e->value.type() != ValueType::kString) continue;
      versioned::Write wr;
      wr.sibling.value = e->value.data;
      wr.sibling.expire_at_ms = e->value.expire_at_ms;
      write_versioned(key, std::move(wr), now_ms);
      continue;
    }
    if (!crdt_) {
      log_local_write(key, now_ms);
      continue;
    }
    // As if written now: every element becomes a write of this node.
    const KeyTable::Entry* e = node_->store_.keyspace(ks_).table.find(key);
    const ValueType t = e->value.type();
    if (t == ValueType::kList) continue;  // lists have no convergent type: they stay local
    versions::CrdtObject& obj = objects_[key];
    const uint64_t hlc = hlc_.now(now_ms);
    const uint64_t seq = own_seq_ + 1;
    uint32_t idx = 0;
    versions::CrdtObject delta = obj.set_type(static_cast<uint8_t>(t), hlc, actor_);
    if (e->value.expire_at_ms != 0) delta.join(obj.set_expiry(e->value.expire_at_ms, hlc, actor_));
    if (t == ValueType::kString) {
      delta.join(obj.write(0, "", e->value.data, {actor_, seq, idx++}, hlc));
    } else {
      e->value.coll->elems.for_each([&](const KeyTable::Entry& el) {
        delta.join(obj.write(static_cast<uint8_t>(t), el.key.view(), el.value.data,
                             {actor_, seq, idx++}, hlc));
      });
    }
    log_delta(key, delta, hlc);
  }
  // The value a key shows may have expired while the node was down (the Store dropped it as
  // it loaded), and another sibling shows now.
  for (const std::string& key : loaded)
    show_versioned(key, now_ms);
  if (!unstamped.empty() || applied_dirty_ || node_->has_pending_persist()) {
    persist_applied();
    PersistRequest req = node_->take_persist();
    RKV_RETURN_IF_ERROR(st.write(req.batch, true));
    node_->on_persisted(req.token);
  }
  stability_.report(self(), actor_, durable_applied_);
  last_sweep_ = last_gc_ = mono();
  return Status::ok();
}

// --- client commands -----------------------------------------------------------------------

Dispatch MultiLeaderEngine::execute(const Origin&, const resp::CommandSpec& spec,
                                    std::span<const std::string_view> args, const RequestOptions&,
                                    int64_t now_ms, resp::Writer& w) {
  if (crdt_ && (spec.flags & resp::kWrite)) return execute_crdt(spec, args, now_ms, w);
  if (siblings_) return execute_siblings(spec, args, now_ms, w);
  const size_t before = node_->pending_.batch.size();
  if (spec.flags & resp::kWrite) {
    CaptureSink capture(node_->change_sink());
    node_->store_.execute(spec, args, now_ms, w, capture);
    for (const std::string& key : capture.keys())
      log_local_write(key, now_ms);
  } else {
    node_->store_.execute(spec, args, now_ms, w, node_->change_sink());
  }
  if (node_->pending_.batch.size() == before) return {};
  return {Dispatch::kAfterPersist, batch_token()};
}

void MultiLeaderEngine::log_local_write(std::string_view key, int64_t now_ms) {
  std::optional<std::string> image = node_->store_.key_image(ks_, key);
  Item it;
  it.seq = own_seq_ + 1;
  it.key.assign(key);
  it.hlc = hlc_.now(now_ms);
  // A write replaces what this node holds of the key, so it must win over it everywhere: above
  // its stamp even when that came from a peer whose clock runs ahead of this one (which this
  // clock does not follow beyond max_clock_skew_ms).
  if (auto cur = meta_.find(key); cur != meta_.end() && cur->second.hlc >= it.hlc) {
    it.hlc = cur->second.hlc + 1;
  }
  it.actor = actor_;
  it.tomb = !image;
  if (image) it.image = std::move(*image);
  append_own(it);
  Meta m{it.hlc, actor_, it.seq, it.tomb};
  put_meta(key, m);
  if (m.tomb) queue_tombstone(key, m, now_ms);
}

void MultiLeaderEngine::append_own(const Item& it) {
  RKV_ASSERT(it.seq == own_seq_ + 1 && it.actor == actor_);
  own_seq_ = it.seq;
  std::string record = multileader::encode_log_record(it);
  node_->pending_.batch.put(log_row(it.seq), seal(record));
  // The token the batch holding this entry will carry (the caller takes it before returning).
  append_log(it.seq, std::move(record), node_->next_token_);
  applied_[actor_] = own_seq_;
  applied_dirty_ = true;
  ++stats_.local_writes;
}

void MultiLeaderEngine::append_log(uint64_t seq, std::string record, uint64_t token) {
  log_bytes_ += record.size();
  log_appended_ += record.size();
  log_.push_back(LogEntry{seq, std::move(record), token, mono(), log_appended_});
}

void MultiLeaderEngine::put_meta(std::string_view key, const Meta& m) {
  auto [it, inserted] = meta_.try_emplace(std::string(key), m);
  if (!inserted) {
    if (it->second.tomb) --tombstones_;
    it->second = m;
  }
  if (m.tomb) ++tombstones_;
  std::string payload;
  put_varint(&payload, m.hlc);
  put_varint(&payload, m.actor);
  put_varint(&payload, m.seq);
  put_varint(&payload, m.tomb ? 1 : 0);
  node_->pending_.batch.put(row('k', key), seal(payload));
}

void MultiLeaderEngine::persist_applied() {
  AppliedVector v(applied_.begin(), applied_.end());
  node_->pending_.batch.put(row('a', ""), seal(multileader::encode_applied(v)));
  applied_at_token_.emplace_back(batch_token(), std::move(v));
  applied_dirty_ = false;
}

// --- peers' writes -------------------------------------------------------------------------

void MultiLeaderEngine::observe_stamp(const Item& it, int64_t now_ms) {
  const int64_t ahead = versions::hlc_wall_ms(it.hlc) - now_ms;
  if (ahead > static_cast<int64_t>(settings().max_clock_skew_ms)) {
    // Applied all the same (every node must converge), but this clock does not follow it: the
    // writer's clock is ahead, and its writes win LWW against later ones made here.
    ++stats_.clock_skew_reports;
    SkewedPeer& s = skew_[it.actor];
    if (s.seen_ms == 0) {
      node_->note(fmt::format(
          "multi-leader keyspace {}: writes of actor {:x} are stamped {} ms ahead of this "
          "node's clock (max_clock_skew_ms = {}); last-writer-wins will favour them",
          name_, it.actor, ahead, settings().max_clock_skew_ms));
    }
    s.ahead_ms = ahead;
    s.seen_ms = mono();
  } else {
    hlc_.observe(it.hlc, now_ms);
  }
}

bool MultiLeaderEngine::malformed(const Item& it, std::string_view what) {
  ++stats_.bad_messages;
  node_->note(
      fmt::format("multi-leader keyspace {}: a peer's {} of key \"{}\" is malformed; not applied",
                  name_, what, it.key));
  return false;
}

bool MultiLeaderEngine::apply_remote(const Item& it, int64_t now_ms) {
  if (crdt_) return apply_remote_crdt(it, now_ms);
  if (siblings_) return apply_remote_siblings(it, now_ms);
  observe_stamp(it, now_ms);
  auto cur = meta_.find(it.key);
  if (cur != meta_.end()) {
    const Meta& c = cur->second;
    if (c.hlc == it.hlc && c.actor == it.actor) return true;  // already here (state transfer)
    const bool keep_local = bug(kBugLwwKeepsLocal) && c.actor == actor_;
    if (keep_local || newer(c.hlc, c.actor, it.hlc, it.actor)) {
      ++stats_.lww_discarded;
      if (settings().conflict_records > 0) {
        if (conflicts_.size() >= settings().conflict_records) conflicts_.pop_front();
        conflicts_.push_back(ConflictRecord{it.key, now_ms, it.hlc, it.actor, it.seq, it.tomb,
                                            c.hlc, c.actor, c.tomb});
      }
      return false;
    }
  }
  if (it.tomb) {
    node_->store_.remove_key(ks_, it.key, node_->change_sink());
  } else if (!node_->store_.put_image(ks_, it.key, it.image, node_->change_sink())) {
    return malformed(it, "value");
  }
  Meta m{it.hlc, it.actor, it.seq, it.tomb};
  put_meta(it.key, m);
  if (m.tomb) queue_tombstone(it.key, m, now_ms);
  return true;
}

void MultiLeaderEngine::on_peer_message(uint32_t from, std::string_view body, int64_t now_ms) {
  std::string_view name;
  Msg m;
  if (!peek_engine_keyspace(body, &name) ||
      !multileader::decode(
          body.substr(static_cast<size_t>(name.data() - body.data()) + name.size()), &m)) {
    ++stats_.bad_messages;
    ++node_->bad_peer_messages_;
    return;
  }
  switch (m.type) {
    case MsgType::kStatus:
      return on_status(from, m, now_ms);
    case MsgType::kEntries:
      return on_entries(from, m, now_ms);
    case MsgType::kState:
      return on_state(from, m, now_ms);
  }
}

void MultiLeaderEngine::on_status(uint32_t from, Msg& m, int64_t /*now_ms*/) {
  Peer& p = peers_[from];
  if (p.actor != m.actor) {
    // First word since this node started, or the peer lost its data and drew a new actor:
    // its cursor is what it says now.
    p = Peer{};
    p.actor = m.actor;
    p.status_due = true;
  }
  uint64_t acked = multileader::applied_of(m.applied, actor_);
  if (acked > own_seq_) {
    // It holds entries of this actor that this node no longer has (they were acknowledged
    // by the OS but lost with the machine, fsync = "never"): never reuse their numbers.
    node_->note(fmt::format(
        "multi-leader keyspace {}: a peer holds this node's log up to {} but the log here ends "
        "at {} (writes lost before they were synced); numbering continues after it",
        name_, acked, own_seq_));
    own_seq_ = acked;
    applied_[actor_] = own_seq_;
    applied_dirty_ = true;
    log_.clear();
    log_bytes_ = 0;
    log_first_ = own_seq_ + 1;
  }
  if (acked > p.acked) {
    p.acked = acked;
    p.progress_ms = mono();
    p.retries = 0;
    if (p.probe_last != 0 && acked >= p.probe_last) {
      // It took the retransmitted batch, so it had taken everything sent before it that
      // reached it: the rest of what was sent before it was lost. From its cursor again.
      if (acked < p.probe_sent) p.sent = acked;
      p.probe_last = 0;
    }
  }
  p.sent = std::max(p.sent, p.acked);
  if (m.resend && p.sent > p.acked && !p.transfer_keys) {
    p.sent = p.acked;  // it saw a gap in what it got: resend from its cursor now
    p.progress_ms = mono();
    p.retries = 0;  // it is reachable
    ++stats_.resends;
  }
  stability_.report(from, m.actor, std::move(m.applied));
}

void MultiLeaderEngine::on_entries(uint32_t from, Msg& m, int64_t now_ms) {
  uint64_t& cur = applied_[m.actor];
  const uint64_t before = cur;
  for (const Item& it : m.items) {
    if (it.seq <= cur) continue;  // a resend of what is here
    if (it.seq != cur + 1 && !bug(kBugCursorSkips)) {
      // A gap (a message lost or overtaken): the sender goes back to this node's cursor, once
      // per gap (or again after retransmit_ms without the gap closing).
      if (from < peers_.size() && peers_[from].actor == m.actor) {
        Peer& p = peers_[from];
        if (p.gap_cursor != cur ||
            mono() - p.gap_ms >= static_cast<int64_t>(settings().retransmit_ms)) {
          p.gap_cursor = cur;
          p.gap_ms = mono();
          p.resend_asked = true;
          p.status_due = true;
        }
      }
      break;
    }
    const bool stood = apply_remote(it, now_ms);
    if (apply_observer_) apply_observer_(it, stood);
    cur = it.seq;
    ++stats_.entries_applied;
    const int64_t lag = now_ms - versions::hlc_wall_ms(it.hlc);
    size_t b = 0;
    while (b < std::size(kLagBoundsMs) && lag > kLagBoundsMs[b])
      ++b;
    ++lag_hist_[b];
  }
  if (cur != before) applied_dirty_ = true;
  (void)from;
}

void MultiLeaderEngine::on_state(uint32_t from, Msg& m, int64_t now_ms) {
  Incoming& in = incoming_transfer_[from];
  if (m.part == 0) {
    in = Incoming{m.transfer, 1, true};
  } else if (in.whole && in.id == m.transfer && in.next_part == m.part) {
    ++in.next_part;
  } else {
    // A part missing, late or of another transfer: nothing of it is taken (it may show keys
    // as they were before writes this node has since applied and even collected), and the
    // sender, finding this node still behind, starts another transfer.
    in.whole = false;
    if (m.last) incoming_transfer_.erase(from);
    return;
  }
  for (const Item& it : m.items) {
    // A write whose origin entry this node applied already is here, or was replaced since (a
    // newer write, or a deletion collected since): taking it again could bring back an old
    // value. A convergent object joins harmlessly (it carries its own removals).
    // Versions merge the same way (merge_unseen keeps out what this node took and dropped);
    // skipping an object whose latest change is here could lose others' writes it holds.
    if (!crdt_ && !siblings_ && it.seq > 0 && it.seq <= applied_[it.actor]) continue;
    const bool stood = apply_remote(it, now_ms);
    if (apply_observer_) apply_observer_(it, stood);
  }
  if (!m.last) return;
  // Everything the sender held when the transfer began is here now.
  for (const auto& [a, s] : m.applied) {
    uint64_t& cur = applied_[a];
    if (s > cur) {
      cur = s;
      applied_dirty_ = true;
    }
  }
  incoming_transfer_.erase(from);
  ++stats_.state_transfers_received;
}

// --- shipping ------------------------------------------------------------------------------

void MultiLeaderEngine::send(uint32_t to, const Msg& m) {
  std::string payload(1, kPeerMultiLeader);
  put_engine_header(&payload, name_);
  multileader::encode(m, &payload);
  node_->send_peer(PeerSend{to, std::move(payload)});
}

void MultiLeaderEngine::send_status(uint32_t peer, Peer& p) {
  Msg m;
  m.type = MsgType::kStatus;
  m.actor = actor_;
  m.applied = durable_applied_;
  m.resend = p.resend_asked;
  send(peer, m);
  p.resend_asked = false;
  p.status_due = false;
  p.last_status_ms = mono();
}

void MultiLeaderEngine::ship(uint32_t peer, Peer& p, int64_t /*now_ms*/) {
  if (p.actor == 0) return;  // its cursor is not known yet
  if (p.transfer_keys) return continue_transfer(peer, p);
  const int64_t now = mono();
  const auto retransmit_ms = static_cast<int64_t>(settings().retransmit_ms);
  const int64_t wait_ms = std::min(retransmit_ms << std::min<uint32_t>(p.retries, 16),
                                   std::max(retransmit_ms, kMaxRetransmitBackoffMs));
  if (p.sent > p.acked && now - p.progress_ms > wait_ms) {
    // Unacknowledged for too long: lost on the way, the peer restarted, or it is busy. Its
    // oldest unacknowledged batch goes again, the position left alone: a busy peer skips it;
    // one that lost messages applies it, and its acknowledgement of it shows what was lost
    // (on_status). Never the whole window at once: a peer that is only behind would be sent
    // it over and over while it works through the first copy.
    p.progress_ms = now;
    ++p.retries;
    ++stats_.resends;
    if (p.acked + 1 < log_first_) {
      p.sent = p.acked;  // what it needs is no longer kept: a state transfer, below
    } else if (uint64_t n = send_entries(peer, p.acked + 1, p.sent, settings().ship_batch_bytes)) {
      p.probe_last = p.acked + n;
      p.probe_sent = p.sent;
    }
  }
  if (p.sent == p.acked && p.acked + 1 < log_first_) {
    // It needs entries no longer kept: a state transfer instead.
    p.transfer_keys.emplace();
    for (const auto& [key, m] : meta_)
      p.transfer_keys->push_back(key);
    std::sort(p.transfer_keys->begin(), p.transfer_keys->end());
    p.transfer_applied = durable_applied_;
    p.transfer_id = random_->next() | 1;
    p.transfer_part = 0;
    ++stats_.state_transfers_sent;
    node_->note_event(fmt::format(
        "multi-leader keyspace {}: node {} is behind this node's log (it holds up to {}, the log "
        "starts at {}); sending it a state transfer of {} keys",
        name_, node_->config_.nodes[peer].id, p.acked, log_first_, p.transfer_keys->size()));
    return continue_transfer(peer, p);
  }
  if (p.sent >= own_seq_ || p.sent + 1 < log_first_) return;
  // Bytes of entries (acked, sent] still in the log.
  const uint64_t from = std::max(p.acked + 1, log_first_);
  const uint64_t unacked =
      p.sent >= from ? entry(p.sent).end_bytes - (entry(from).end_bytes - entry(from).record.size())
                     : 0;
  if (unacked >= settings().max_unacked_bytes) return;
  const bool from_cursor = p.sent == p.acked;
  const uint64_t n = send_entries(
      peer, p.sent + 1, own_seq_,
      std::min<uint64_t>(settings().ship_batch_bytes, settings().max_unacked_bytes - unacked));
  if (n == 0) return;
  if (from_cursor) p.progress_ms = now;
  p.sent += n;
}

uint64_t MultiLeaderEngine::send_entries(uint32_t peer, uint64_t first, uint64_t last,
                                         uint64_t max_bytes) {
  const uint64_t durable = node_->durable_token();
  std::vector<std::string_view> records;
  size_t bytes = 0;
  for (uint64_t s = first; s <= last; ++s) {
    const LogEntry& e = entry(s);
    if (e.token > durable) break;  // shipped only once durable here: a crash never unsays it
    if (!records.empty() && bytes + e.record.size() > max_bytes) break;
    records.push_back(e.record);
    bytes += e.record.size();
  }
  if (records.empty()) return 0;
  // A kEntries message (messages.h) whose items are the stored records as they are.
  std::string box(1, kPeerMultiLeader);
  put_engine_header(&box, name_);
  box.push_back(static_cast<char>(MsgType::kEntries));
  put_varint(&box, actor_);
  put_varint(&box, records.size());
  for (std::string_view r : records)
    box.append(r);
  node_->send_peer(PeerSend{peer, std::move(box)});
  stats_.entries_sent += records.size();
  return records.size();
}

void MultiLeaderEngine::continue_transfer(uint32_t peer, Peer& p) {
  Msg m;
  m.type = MsgType::kState;
  m.actor = actor_;
  m.transfer = p.transfer_id;
  m.part = p.transfer_part++;
  size_t bytes = 0;
  std::deque<std::string>& keys = *p.transfer_keys;
  while (!keys.empty() && (m.items.empty() || bytes < settings().state_chunk_bytes)) {
    std::string key = std::move(keys.front());
    keys.pop_front();
    auto it = meta_.find(key);
    if (it == meta_.end()) continue;  // collected since
    Item item;
    item.seq = it->second.seq;
    item.hlc = it->second.hlc;
    item.actor = it->second.actor;
    if (crdt_) {
      auto o = objects_.find(key);
      if (o == objects_.end()) continue;
      o->second.encode(&item.image);  // the whole object: a delta like any other
    } else if (siblings_) {
      auto o = versioned_.find(key);
      if (o == versioned_.end()) continue;
      o->second.encode(&item.image);  // the whole object: merged like a write's
    } else {
      std::optional<std::string> image = node_->store_.key_image(ks_, key);
      item.tomb = it->second.tomb || !image;
      if (!item.tomb) item.image = std::move(*image);
    }
    item.key = std::move(key);
    bytes += multileader::encoded_size(item);
    m.items.push_back(std::move(item));
  }
  if (keys.empty()) {
    m.last = true;
    m.applied = p.transfer_applied;
    p.sent = std::max(p.acked, multileader::applied_of(p.transfer_applied, actor_));
    p.progress_ms = mono();
    p.transfer_keys.reset();
  }
  send(peer, m);
}

void MultiLeaderEngine::truncate_log() {
  uint64_t keep_from = own_seq_ + 1;  // the first entry some peer still needs
  for (uint32_t i = 0; i < peers_.size(); ++i) {
    if (i == self()) continue;
    keep_from = std::min(keep_from, peers_[i].acked + 1);
  }
  uint64_t first = log_first_;
  const uint64_t durable = node_->durable_token();
  while (!log_.empty()) {
    const LogEntry& e = log_.front();
    const bool needed = e.seq >= keep_from;
    const bool over =
        log_.size() > settings().max_log_entries || log_bytes_ > settings().max_log_bytes;
    if ((needed && !over) || e.token > durable) break;
    log_bytes_ -= e.record.size();
    log_.pop_front();
    ++first;
  }
  if (first == log_first_) return;
  node_->pending_.batch.delete_range(log_row(log_first_), log_row(first));
  log_first_ = first;
  batch_token();
}

// --- time and durability -------------------------------------------------------------------

void MultiLeaderEngine::on_persisted(uint64_t token, int64_t /*now_ms*/) {
  bool moved = false;
  while (!applied_at_token_.empty() && applied_at_token_.front().first <= token) {
    durable_applied_ = std::move(applied_at_token_.front().second);
    applied_at_token_.pop_front();
    moved = true;
  }
  if (!moved) return;
  stability_.report(self(), actor_, durable_applied_);
  for (uint32_t i = 0; i < peers_.size(); ++i) {
    if (i != self()) peers_[i].status_due = true;  // acknowledge what is durable now
  }
}

void MultiLeaderEngine::pump(int64_t now_ms) {
  if (applied_dirty_) persist_applied();
  for (uint32_t i = 0; i < peers_.size(); ++i) {
    if (i == self()) continue;
    Peer& p = peers_[i];
    if (p.status_due) send_status(i, p);
    ship(i, p, now_ms);
  }
}

void MultiLeaderEngine::tick(int64_t now_ms) {
  const int64_t m = mono();
  for (uint32_t i = 0; i < peers_.size(); ++i) {
    if (i == self()) continue;
    // Also the liveness of the exchange: a peer that restarted learns every cursor from it.
    if (m - peers_[i].last_status_ms >= static_cast<int64_t>(settings().hello_ms)) {
      peers_[i].status_due = true;
    }
  }
  if (m - last_sweep_ >= static_cast<int64_t>(node_->config_.expire_sweep_ms)) {
    last_sweep_ = m;
    sweep_expired(now_ms);
  }
  if (m - last_gc_ >= static_cast<int64_t>(settings().hello_ms)) {
    last_gc_ = m;
    collect_tombstones(now_ms);
    truncate_log();
  }
  pump(now_ms);
}

void MultiLeaderEngine::sweep_expired(int64_t now_ms) {
  // An expiry is not a write: every node removes the key at the same absolute time, so
  // nothing is shipped. The key's stamp stays until it is stable, like a tombstone's.
  for (const std::string& key : node_->store_.expired_keys(ks_, now_ms, 256)) {
    if (siblings_) {
      // The sibling shown expired: another may show now. The dead one waits for the collector.
      show_versioned(key, now_ms);
      if (auto it = meta_.find(key); it != meta_.end()) queue_tombstone(key, it->second, now_ms);
      continue;
    }
    if (crdt_) {
      expire_crdt(key, now_ms);
      continue;
    }
    node_->store_.remove_key(ks_, key, node_->change_sink());
    if (auto it = meta_.find(key); it != meta_.end()) queue_tombstone(key, it->second, now_ms);
  }
  if (node_->has_pending_persist()) batch_token();
}

void MultiLeaderEngine::queue_tombstone(std::string_view key, const Meta& m, int64_t /*now_ms*/) {
  pending_gc_.push_back(Pending{std::string(key), m.hlc, m.actor, m.seq, mono(), {}});
}

void MultiLeaderEngine::collect_tombstones(int64_t now_ms) {
  const int64_t now = mono();
  size_t looked = 0;
  size_t n = pending_gc_.size();
  bool changed = false;
  while (n-- > 0 && looked++ < kGcStepItems) {
    Pending p = std::move(pending_gc_.front());
    pending_gc_.pop_front();
    auto it = meta_.find(p.key);
    if (it == meta_.end() || it->second.hlc != p.hlc || it->second.actor != p.actor) continue;
    if (siblings_) {
      if (!collect_dead_siblings(p, now_ms, now, &changed)) continue;
    } else {
      if (!it->second.tomb && node_->store_.keyspace(ks_).table.find(p.key)) continue;  // rewritten
      bool ready = bug(kBugTombstoneEarly);
      if (!ready) {
        if (!p.frontier && (p.seq == 0 || stability_.stable(p.actor) >= p.seq)) {
          p.frontier = stability_.frontier();
        }
        // Also only once this node's clock has passed the stamp: its writes of the key after
        // forgetting it are then stamped above it, so that a node still holding the tombstone
        // does not discard them (a peer's clock may run ahead beyond what this clock follows).
        // With crdt the same holds for the key's type and expiry registers, which a peer still
        // holding the object compares this node's next type or expiry write against.
        uint64_t newest = p.hlc;
        if (const versions::CrdtObject* o = crdt_ ? object(p.key) : nullptr) {
          newest = std::max({newest, o->type.hlc, o->expiry.hlc});
        }
        ready = deletion_ready(p, newest, now_ms, now);
      }
      if (!ready) {
        pending_gc_.push_back(std::move(p));
        continue;
      }
    }
    if (it->second.tomb) --tombstones_;
    meta_.erase(it);
    node_->pending_.batch.del(row('k', p.key));
    if (crdt_ && objects_.erase(p.key) > 0) {
      node_->pending_.batch.del(row('c', p.key));
      const std::string cells = cell_row(p.key, 0, "");
      node_->pending_.batch.delete_range(cells.substr(0, cells.size() - 1),
                                         cells.substr(0, cells.size() - 1) + '\xff');
    }
    if (siblings_ && versioned_.erase(p.key) > 0) node_->pending_.batch.del(row('v', p.key));
    ++stats_.tombstones_collected;
    changed = true;
  }
  if (changed) batch_token();
}

bool MultiLeaderEngine::deletion_ready(const Pending& p, uint64_t newest, int64_t now_ms,
                                       int64_t now) const {
  return p.frontier && stability_.covers(*p.frontier) &&
         now - p.since_ms >= static_cast<int64_t>(settings().tombstone_grace_ms) &&
         versions::hlc_wall_ms(newest) < now_ms;
}

bool MultiLeaderEngine::collect_dead_siblings(Pending& p, int64_t now_ms, int64_t now,
                                              bool* changed) {
  auto o = versioned_.find(p.key);
  if (o == versioned_.end()) return true;  // a stamp with no versions: nothing to keep
  versions::Versioned& obj = o->second;
  // The same two steps as a tombstone's: every dead sibling is stable (held by every member;
  // a dot's counter is at least the seq of the entry that carried it), then every write a
  // member issued before it held them is stable too. And this clock passed their stamps.
  bool stable = true;
  uint64_t newest = 0;
  size_t dead = 0;
  for (const versions::Sibling& s : obj.siblings()) {
    if (versioned::live(s, now_ms)) continue;
    ++dead;
    newest = std::max(newest, s.hlc);
    stable &= stability_.stable(s.dot.actor) >= s.dot.counter;
  }
  if (dead == 0 && !obj.siblings().empty()) return false;  // written since: nothing dead
  bool ready = bug(kBugTombstoneEarly);
  if (!ready) {
    if (!stable) {
      p.frontier.reset();  // a sibling died since the frontier was taken (an expiry)
    } else if (!p.frontier) {
      p.frontier = stability_.frontier();
    }
    ready = stable && deletion_ready(p, newest, now_ms, now);
  }
  if (!ready) {
    pending_gc_.push_back(std::move(p));
    return false;
  }
  const size_t before = obj.siblings().size();
  const size_t dropped = obj.forget_dead(now_ms);
  const bool multi_before = before > 1, multi_after = obj.siblings().size() > 1;
  if (multi_before && !multi_after) --multi_sibling_keys_;
  if (!obj.siblings().empty()) {
    // Live siblings stay (a deletion concurrent with them is forgotten; the context keeps its
    // dot, so no copy of it comes back).
    persist_versioned(p.key, obj);
    show_versioned(p.key, now_ms);
    stats_.tombstones_collected += dropped;
    *changed = true;
    return false;
  }
  node_->store_.remove_key(ks_, p.key, node_->change_sink());  // an expiry not swept yet
  return true;
}

// --- conflict = "siblings" -----------------------------------------------------------------

Dispatch MultiLeaderEngine::execute_siblings(const resp::CommandSpec& spec,
                                             std::span<const std::string_view> args, int64_t now_ms,
                                             resp::Writer& w) {
  using versioned::Command;
  const std::string where = fmt::format("multi-leader keyspace '{}' (conflict = siblings)", name_);
  const std::optional<Command> c = versioned::command_of(spec.id);
  if (!c) {
    w.error(versioned::refusal(spec, where));
    return {};
  }
  if (*c != Command::kSet && *c != Command::kDel) {
    versioned::reply_read(
        *c, args.size() - 1, [&](size_t i) { return versioned(args[i + 1]); }, now_ms, w);
    if (*c != Command::kSiblings) return {};
    // A context naming a write of this node not durable yet is shown only once it is: a crash
    // would lose that write and reissue its dot to the next one, which a SET with this context
    // would then replace unseen.
    const versions::Versioned* o = versioned(args[1]);
    const uint64_t token = own_entry_token(o ? o->context().get(actor_) : 0);
    if (token == 0) return {};
    return {Dispatch::kAfterPersist, token};
  }
  versioned::Write wr;
  std::string error;
  if (!versioned::parse_write(*c, args, now_ms, node_->config_.limits.max_value_len, where, &wr,
                              &error)) {
    w.error(error);
    return {};
  }
  const size_t before = node_->pending_.batch.size();
  if (*c == Command::kSet) {
    write_versioned(args[1], std::move(wr), now_ms);
    w.ok();
  } else {
    // A key with nothing visible here is not written: a tombstone superseding only dead
    // versions would change what no read shows.
    int64_t existed = 0;
    for (size_t i = 1; i < args.size(); ++i) {
      const versions::Versioned* o = versioned(args[i]);
      if (!o || !versioned::visible(*o, now_ms)) continue;
      ++existed;
      write_versioned(args[i], wr, now_ms);
    }
    w.integer(existed);
  }
  if (node_->pending_.batch.size() == before) return {};
  return {Dispatch::kAfterPersist, batch_token()};
}

uint64_t MultiLeaderEngine::own_entry_token(uint64_t seq) const {
  if (seq < log_first_ || seq > own_seq_ || seq - log_first_ >= log_.size()) return 0;
  const uint64_t token = log_[seq - log_first_].token;
  return token > node_->durable_token() ? token : 0;
}

versions::VersionVector MultiLeaderEngine::applied_context() const {
  versions::VersionVector v;
  for (const auto& [actor, seq] : applied_) {
    if (seq > 0) v.set(actor, seq);
  }
  return v;
}

void MultiLeaderEngine::write_versioned(std::string_view key, versioned::Write wr, int64_t now_ms) {
  auto found = versioned_.find(key);
  const versions::Versioned empty;
  const versions::Versioned& obj = found != versioned_.end() ? found->second : empty;
  versions::Sibling s = std::move(wr.sibling);
  s.hlc = versioned::stamp_above(obj, hlc_.now(now_ms));
  // What the write supersedes: without CONTEXT, everything this node has applied of the key,
  // collected versions included (the applied vector names them: a dot's counter is at least
  // its entry's seq); with CONTEXT, exactly the versions the client read.
  versions::VersionVector seen = wr.context;
  if (seen.empty()) {
    seen = obj.context();
    seen.merge(applied_context());
  }
  // The entry carries the write alone, as a one-sibling object whose context is what it
  // supersedes: merging it anywhere is applying the write (it drops exactly those versions),
  // and it costs the size of the write, not of the key's every sibling. The whole object
  // would add nothing: each origin's entries reach every peer in order, and a peer too far
  // behind gets the whole objects in a state transfer.
  Item it;
  it.seq = own_seq_ + 1;
  it.key.assign(key);
  it.hlc = s.hlc;
  it.actor = actor_;
  versions::Versioned change;
  const versions::Dot dot =
      change.update(actor_, seen, std::move(s), std::max(it.seq, obj.context().get(actor_) + 1));
  RKV_ASSERT(dot.counter >= it.seq);
  change.encode(&it.image);
  append_own(it);
  take_versioned(it, change, true, now_ms);
}

bool MultiLeaderEngine::apply_remote_siblings(const Item& it, int64_t now_ms) {
  versions::Versioned change;
  std::string_view in = it.image;
  if (!versions::Versioned::decode(&in, &change) || !in.empty()) return malformed(it, "versions");
  observe_stamp(it, now_ms);
  auto found = versioned_.find(it.key);
  if (found != versioned_.end() && found->second.covers(change)) return true;  // here already
  take_versioned(it, change, false, now_ms);
  return true;
}

void MultiLeaderEngine::take_versioned(const Item& it, const versions::Versioned& change,
                                       bool local, int64_t now_ms) {
  versions::Versioned& obj = versioned_[it.key];
  const size_t before = obj.siblings().size();
  if (local) {
    obj.merge(change);
  } else {
    obj.merge_unseen(change, applied_context());
    if (bug(kBugSiblingsDropConcurrent)) obj.resolve_lww();
  }
  const size_t after = obj.siblings().size();
  if (after > 1 && after > before) stats_.siblings_created += after - std::max<size_t>(before, 1);
  if ((before > 1) != (after > 1)) {
    if (after > 1) {
      ++multi_sibling_keys_;
    } else {
      --multi_sibling_keys_;
    }
  }
  persist_versioned(it.key, obj);
  // The key's latest change as it arrived here: what the collector compares to notice a change.
  Meta m{it.hlc, it.actor, it.seq, obj.deleted_at(now_ms)};
  put_meta(it.key, m);
  const bool dead = obj.siblings().empty() ||
                    std::any_of(obj.siblings().begin(), obj.siblings().end(),
                                [&](const auto& s) { return !versioned::live(s, now_ms); });
  if (dead) queue_tombstone(it.key, m, now_ms);
  show_versioned(it.key, now_ms);
}

void MultiLeaderEngine::persist_versioned(std::string_view key, const versions::Versioned& obj) {
  std::string rec;
  obj.encode(&rec);
  node_->pending_.batch.put(row('v', key), seal(rec));
}

void MultiLeaderEngine::show_versioned(std::string_view key, int64_t now_ms) {
  const versions::Versioned* o = versioned(key);
  const versions::Sibling* s = o ? versioned::visible(*o, now_ms) : nullptr;
  if (!s) {
    node_->store_.remove_key(ks_, key, node_->change_sink());
    return;
  }
  const std::string image =
      Store::make_image(ValueType::kString, s->expire_at_ms, {{"", s->value}});
  if (node_->store_.key_image(ks_, key) == image) return;  // already shown so
  const bool ok = node_->store_.put_image(ks_, key, image, node_->change_sink());
  RKV_ASSERT(ok);
}

const versions::Versioned* MultiLeaderEngine::versioned(std::string_view key) const {
  auto it = versioned_.find(key);
  return it == versioned_.end() ? nullptr : &it->second;
}

// --- conflict = "crdt" ---------------------------------------------------------------------

namespace {

// How a write command of a crdt keyspace maps onto the key's convergent object.
enum class CrdtOp : uint8_t {
  kWrite,      // the elements it sets are register writes, those it removes observed-removes
  kIncr,       // an integer increment of the element it changes (amount: argument `arg`)
  kIncrFloat,  // a floating-point increment (amount: argument `arg`)
  kExpiry,     // it changes the expiry only
};
struct CrdtCommand {
  resp::CommandId id;
  CrdtOp op;
  int arg = 0;   // the argument holding the amount (kIncr, kIncrFloat); 0: INCR/DECR's 1
  int sign = 1;  // DECR, DECRBY
};
constexpr CrdtCommand kCrdtCommands[] = {
    {resp::CommandId::kSet, CrdtOp::kWrite},
    {resp::CommandId::kSetex, CrdtOp::kWrite},
    {resp::CommandId::kPsetex, CrdtOp::kWrite},
    {resp::CommandId::kMset, CrdtOp::kWrite},
    {resp::CommandId::kAppend, CrdtOp::kWrite},
    {resp::CommandId::kSetrange, CrdtOp::kWrite},
    {resp::CommandId::kSetbit, CrdtOp::kWrite},
    {resp::CommandId::kDel, CrdtOp::kWrite},
    {resp::CommandId::kUnlink, CrdtOp::kWrite},
    {resp::CommandId::kIncr, CrdtOp::kIncr, 0, 1},
    {resp::CommandId::kDecr, CrdtOp::kIncr, 0, -1},
    {resp::CommandId::kIncrby, CrdtOp::kIncr, 2, 1},
    {resp::CommandId::kDecrby, CrdtOp::kIncr, 2, -1},
    {resp::CommandId::kIncrbyfloat, CrdtOp::kIncrFloat, 2, 1},
    {resp::CommandId::kExpire, CrdtOp::kExpiry},
    {resp::CommandId::kPexpire, CrdtOp::kExpiry},
    {resp::CommandId::kExpireat, CrdtOp::kExpiry},
    {resp::CommandId::kPexpireat, CrdtOp::kExpiry},
    {resp::CommandId::kPersist, CrdtOp::kExpiry},
    {resp::CommandId::kHset, CrdtOp::kWrite},
    {resp::CommandId::kHmset, CrdtOp::kWrite},
    {resp::CommandId::kHdel, CrdtOp::kWrite},
    {resp::CommandId::kHincrby, CrdtOp::kIncr, 3, 1},
    {resp::CommandId::kHincrbyfloat, CrdtOp::kIncrFloat, 3, 1},
    {resp::CommandId::kSadd, CrdtOp::kWrite},
    {resp::CommandId::kSrem, CrdtOp::kWrite},
    {resp::CommandId::kZadd, CrdtOp::kWrite},
    {resp::CommandId::kZrem, CrdtOp::kWrite},
    {resp::CommandId::kZincrby, CrdtOp::kIncrFloat, 2, 1},
};

const CrdtCommand* crdt_command(resp::CommandId id) {
  for (const CrdtCommand& c : kCrdtCommands) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

// Every change a command made, in order, with what the object needs of it.
class EventSink final : public ChangeSink {
 public:
  struct Event {
    enum Kind : uint8_t { kPut, kElement, kErase } kind;
    std::string key;
    ValueType type = ValueType::kString;  // kPut: the value's type
    int64_t expire_at = 0;                // kPut
    std::string data;                     // kPut: a string's value; kElement: the element
    std::optional<std::string> value;     // kElement: its new value (nullopt: removed)
  };
  explicit EventSink(ChangeSink& inner) : inner_(inner) {}
  void on_put(uint32_t ks, std::string_view key, const Value& v) override {
    inner_.on_put(ks, key, v);
    events_.push_back({Event::kPut, std::string(key), v.type(), v.expire_at_ms,
                       v.is_string() ? v.data : std::string(), std::nullopt});
  }
  void on_erase(uint32_t ks, std::string_view key, ValueType t) override {
    inner_.on_erase(ks, key, t);
    events_.push_back({Event::kErase, std::string(key), t, 0, {}, std::nullopt});
  }
  void on_element(uint32_t ks, std::string_view key, std::string_view e,
                  const std::string* v) override {
    inner_.on_element(ks, key, e, v);
    events_.push_back({Event::kElement, std::string(key), ValueType::kString, 0, std::string(e),
                       v ? std::optional<std::string>(*v) : std::nullopt});
  }
  void on_clear(uint32_t ks) override { inner_.on_clear(ks); }
  const std::vector<Event>& events() const { return events_; }

 private:
  ChangeSink& inner_;
  std::vector<Event> events_;
};

// A cell's value as text: its register plus what its counter adds. Increments on a value
// that is not a number do not show (the register stands); integers stay integers unless a
// floating-point increment contributes.
std::string cell_text(const versions::Cell& c) {
  const versions::Cell::Write* w = c.shown();
  int64_t ints = 0;
  double floats = 0;
  bool has_floats = false;
  c.contribution(&ints, &floats, &has_floats);
  if (ints == 0 && !has_floats) return w ? w->value : std::string("0");
  int64_t base = 0;
  if (!has_floats && (!w || parse_int64(w->value, &base))) {
    const __int128 sum = static_cast<__int128>(base) + ints;
    const __int128 clamped = std::clamp<__int128>(sum, INT64_MIN, INT64_MAX);
    return std::to_string(static_cast<int64_t>(clamped));
  }
  long double b = 0;
  if (w && !store_util::parse_long_double(w->value, &b)) return w->value;
  const long double v = b + static_cast<long double>(ints) + static_cast<long double>(floats);
  return std::isfinite(v) ? store_util::format_long_double(v) : (w ? w->value : std::string("0"));
}

double cell_score(const versions::Cell& c) {
  const versions::Cell::Write* w = c.shown();
  double base = 0;
  if (w && !decode_score(w->value, &base)) base = 0;
  int64_t ints = 0;
  double floats = 0;
  bool has_floats = false;
  c.contribution(&ints, &floats, &has_floats);
  const double v = base + static_cast<double>(ints) + floats;
  return std::isnan(v) ? base : v;
}

// The Store image of what an object shows; nullopt when nothing is present.
std::optional<std::string> render(const versions::CrdtObject& o) {
  if (!o.present()) return std::nullopt;
  const auto t = static_cast<ValueType>(o.type.value);
  std::vector<std::pair<std::string, std::string>> elems;
  for (const auto& [e, c] : *o.shown_cells()) {
    if (!c.present()) continue;
    switch (t) {
      case ValueType::kString:
        if (e.empty()) elems.emplace_back(e, cell_text(c));
        break;
      case ValueType::kHash:
        elems.emplace_back(e, cell_text(c));
        break;
      case ValueType::kSet:
        elems.emplace_back(e, std::string());
        break;
      case ValueType::kZset:
        elems.emplace_back(e, encode_score(cell_score(c)));
        break;
      case ValueType::kList:
        return std::nullopt;
    }
  }
  if (elems.empty()) return std::nullopt;
  return Store::make_image(t, o.expiry.value, elems);
}

}  // namespace

std::string MultiLeaderEngine::crdt_refusal(const resp::CommandSpec& spec,
                                            std::span<const std::string_view> args) const {
  auto refuse = [&](std::string_view why) {
    return fmt::format(
        "ERR {} is not available in keyspace '{}' (multi-leader, conflict = crdt): "
        "{}",
        upper(spec.name), name_, why);
  };
  const CrdtCommand* c = crdt_command(spec.id);
  if (!c) {
    switch (spec.id) {
      case resp::CommandId::kSetnx:
      case resp::CommandId::kMsetnx:
      case resp::CommandId::kHsetnx:
        return refuse("a write conditional on the value a node sees has no convergent meaning");
      case resp::CommandId::kGetset:
      case resp::CommandId::kGetdel:
      case resp::CommandId::kGetex:
        return refuse(
            "it reads and writes in one step, which nodes writing concurrently cannot "
            "agree on");
      default:
        break;
    }
    if (spec.name[0] == 'l' || spec.name[0] == 'b' || spec.name == "rpush" || spec.name == "rpop" ||
        spec.name == "rpoplpush" || spec.name == "rpushx") {
      return refuse("lists have no convergent type in this version");
    }
    return refuse(
        "it has no convergent mapping (supported writes: SET SETEX PSETEX MSET APPEND SETRANGE "
        "SETBIT DEL UNLINK INCR DECR INCRBY DECRBY INCRBYFLOAT EXPIRE PEXPIRE EXPIREAT PEXPIREAT "
        "PERSIST HSET HMSET HDEL HINCRBY HINCRBYFLOAT SADD SREM ZADD ZREM ZINCRBY)");
  }
  if (spec.id == resp::CommandId::kSet) {
    for (size_t i = 3; i < args.size(); ++i) {
      if (iequals(args[i], "nx") || iequals(args[i], "xx") || iequals(args[i], "get")) {
        return refuse("NX, XX and GET make it conditional on the value a node sees");
      }
    }
  }
  if (spec.id == resp::CommandId::kZadd) {
    for (size_t i = 2; i < args.size(); ++i) {
      for (std::string_view f : {"nx", "xx", "gt", "lt", "incr"}) {
        if (iequals(args[i], f)) {
          return refuse("NX, XX, GT, LT and INCR make it conditional (use ZINCRBY to add)");
        }
      }
    }
  }
  return {};
}

const versions::CrdtObject* MultiLeaderEngine::object(std::string_view key) const {
  auto it = objects_.find(key);
  return it == objects_.end() ? nullptr : &it->second;
}

std::string MultiLeaderEngine::cell_row(std::string_view key, uint8_t t,
                                        std::string_view elem) const {
  std::string r;
  put_varint(&r, key.size());
  r.append(key);
  r.push_back(static_cast<char>(t));
  r.append(elem);
  return row('e', r);
}

void MultiLeaderEngine::persist_delta(std::string_view key, const versions::CrdtObject& obj,
                                      const versions::CrdtObject& delta, bool head) {
  if (head) {
    std::string head;
    obj.encode_head(&head);
    node_->pending_.batch.put(row('c', key), seal(head));
  }
  for (const auto& [t, cells] : delta.cells) {
    const auto& mine = obj.cells.at(t);
    for (const auto& [elem, unused] : cells) {
      std::string payload;
      mine.at(elem).encode(&payload);
      node_->pending_.batch.put(cell_row(key, t, elem), seal(payload));
    }
  }
}

void MultiLeaderEngine::materialize_delta(std::string_view key, const versions::CrdtObject& delta,
                                          int64_t type_before, int64_t now_ms) {
  const versions::CrdtObject& obj = objects_.find(key)->second;
  const KeyTable::Entry* e = node_->store_.keyspace(ks_).table.find(key);
  const auto t = static_cast<ValueType>(obj.type.value);
  if (!obj.present() || t == ValueType::kString || !e || !e->value.coll ||
      e->value.coll->type != t || type_before != obj.type.value ||
      e->value.expire_at_ms != obj.expiry.value) {
    return materialize(key, now_ms);
  }
  // The same collection: only the elements the delta touched can have changed.
  auto touched = delta.cells.find(static_cast<uint8_t>(t));
  if (touched == delta.cells.end()) return;
  const auto& cells = obj.cells.at(static_cast<uint8_t>(t));
  for (const auto& [elem, unused] : touched->second) {
    const versions::Cell& c = cells.at(elem);
    std::optional<std::string> v;
    if (c.present()) {
      v = t == ValueType::kHash   ? cell_text(c)
          : t == ValueType::kZset ? encode_score(cell_score(c))
                                  : std::string();
    }
    if (!node_->store_.set_element(ks_, key, elem, v ? &*v : nullptr, node_->change_sink())) {
      return materialize(key, now_ms);
    }
  }
  if (!node_->store_.keyspace(ks_).table.find(key)) materialize(key, now_ms);
}

void MultiLeaderEngine::log_delta(std::string_view key, versions::CrdtObject& delta, uint64_t hlc) {
  const versions::CrdtObject& obj = objects_[std::string(key)];
  const bool head = delta.type.hlc != 0 || delta.expiry.hlc != 0 || !obj.present();
  // Every change carries the key's type and expiry registers: a peer that already collected
  // the key's tombstone (and those registers with it) must not take the change for one of a
  // key with no type. Joining them again anywhere else changes nothing.
  delta.type = obj.type;
  delta.expiry = obj.expiry;
  Item it;
  it.seq = own_seq_ + 1;
  it.key.assign(key);
  it.hlc = hlc;
  it.actor = actor_;
  delta.encode(&it.image);
  append_own(it);
  persist_delta(key, obj, delta, head);
  Meta m{hlc, actor_, it.seq, !obj.present()};
  put_meta(key, m);
  if (m.tomb) queue_tombstone(key, m, 0);
}

void MultiLeaderEngine::materialize(std::string_view key, int64_t /*now_ms*/) {
  auto it = objects_.find(key);
  std::optional<std::string> image = it == objects_.end() ? std::nullopt : render(it->second);
  if (!image) {
    node_->store_.remove_key(ks_, key, node_->change_sink());
    return;
  }
  if (node_->store_.key_image(ks_, key) == image) return;  // already shown so
  const bool ok = node_->store_.put_image(ks_, key, *image, node_->change_sink());
  RKV_ASSERT(ok);
}

void MultiLeaderEngine::expire_crdt(std::string_view key, int64_t now_ms) {
  versions::CrdtObject& obj = objects_[std::string(key)];
  const uint64_t hlc = hlc_.now(now_ms);
  versions::CrdtObject delta = obj.remove_all();
  log_delta(key, delta, hlc);
  node_->store_.remove_key(ks_, key, node_->change_sink());
}

Dispatch MultiLeaderEngine::execute_crdt(const resp::CommandSpec& spec,
                                         std::span<const std::string_view> args, int64_t now_ms,
                                         resp::Writer& w) {
  if (std::string why = crdt_refusal(spec, args); !why.empty()) {
    w.error(why);
    return {};
  }
  const size_t before = node_->pending_.batch.size();
  // A key whose TTL passed and that the sweep has not reached yet is removed first (an
  // observed-remove), so that the command starts from an absent key here as in the Store.
  resp::for_each_key(spec, args, [&](size_t i) {
    const KeyTable::Entry* e = node_->store_.keyspace(ks_).table.find(args[i]);
    if (e && e->value.expire_at_ms != 0 && e->value.expire_at_ms <= now_ms) {
      expire_crdt(args[i], now_ms);
    }
  });
  const CrdtCommand& cmd = *crdt_command(spec.id);
  EventSink events(node_->change_sink());
  node_->store_.execute(spec, args, now_ms, w, events);
  // The amount of an increment, as the Store just accepted it.
  int64_t by = cmd.sign;
  double by_float = 0;
  if (cmd.op == CrdtOp::kIncr && cmd.arg > 0) {
    if (!parse_int64(args[static_cast<size_t>(cmd.arg)], &by)) by = 0;
    if (cmd.sign < 0) by = by == INT64_MIN ? INT64_MAX : -by;
  } else if (cmd.op == CrdtOp::kIncrFloat) {
    long double f = 0;
    if (store_util::parse_long_double(args[static_cast<size_t>(cmd.arg)], &f))
      by_float = static_cast<double>(f);
  }
  // One delta per key, in the order the keys first changed.
  std::vector<std::string> keys;
  for (const auto& ev : events.events()) {
    if (std::find(keys.begin(), keys.end(), ev.key) == keys.end()) keys.push_back(ev.key);
  }
  for (const std::string& key : keys) {
    versions::CrdtObject& obj = objects_[key];
    const int64_t type_before = obj.type.value;
    // Above the type and expiry it replaces, even when those came from a peer whose clock runs
    // ahead (see log_local_write).
    const uint64_t hlc = std::max({hlc_.now(now_ms), obj.type.hlc + 1, obj.expiry.hlc + 1});
    const uint64_t seq = own_seq_ + 1;
    uint32_t idx = 0;
    versions::CrdtObject delta;
    auto type_is = [&](ValueType t) {
      if (obj.type.hlc == 0 || obj.type.value != static_cast<int64_t>(t)) {
        delta.join(obj.set_type(static_cast<uint8_t>(t), hlc, actor_));
      }
    };
    ValueType coll = static_cast<ValueType>(obj.type.value);
    for (const auto& ev : events.events()) {
      if (ev.key != key) continue;
      switch (ev.kind) {
        case EventSink::Event::kErase:
          delta.join(obj.remove_all());
          break;
        case EventSink::Event::kPut:
          type_is(ev.type);
          coll = ev.type;
          if (ev.type == ValueType::kString && cmd.op != CrdtOp::kExpiry) {
            if (cmd.op == CrdtOp::kIncr) {
              delta.join(obj.increment(0, "", actor_, seq, by));
            } else if (cmd.op == CrdtOp::kIncrFloat) {
              delta.join(obj.increment_float(0, "", actor_, seq, by_float));
            } else {
              delta.join(obj.write(0, "", ev.data, {actor_, seq, idx++}, hlc));
            }
          }
          // A key made anew (its registers collected with its tombstone, or never set) states
          // its expiry, which wins over one a peer still holds from before.
          if (obj.expiry.value != ev.expire_at || obj.expiry.hlc == 0) {
            delta.join(obj.set_expiry(ev.expire_at, hlc, actor_));
          }
          break;
        case EventSink::Event::kElement: {
          const auto t = static_cast<uint8_t>(coll);
          if (!ev.value) {
            delta.join(obj.remove(t, ev.data));
          } else if (cmd.op == CrdtOp::kIncr) {
            delta.join(obj.increment(t, ev.data, actor_, seq, by));
          } else if (cmd.op == CrdtOp::kIncrFloat) {
            delta.join(obj.increment_float(t, ev.data, actor_, seq, by_float));
          } else {
            delta.join(obj.write(t, ev.data, *ev.value, {actor_, seq, idx++}, hlc));
          }
          break;
        }
      }
    }
    log_delta(key, delta, hlc);
    // The Store ran the command; what it shows must be what the object renders (counters as
    // the sum of their parts, in the object's arithmetic).
    materialize_delta(key, delta, type_before, now_ms);
  }
  if (node_->pending_.batch.size() == before) return {};
  return {Dispatch::kAfterPersist, batch_token()};
}

void MultiLeaderEngine::broken_crdt_merge(versions::CrdtObject& obj,
                                          versions::CrdtObject& delta) const {
  for (auto& [t, cells] : delta.cells) {
    for (auto& [elem, d] : cells) {
      versions::Cell& mine = obj.cells[t][elem];
      if (bug(kBugCrdtRemoveWins) && d.live.empty() && !d.removed.empty()) {
        for (const auto& [dot, w] : mine.live)
          d.removed.insert(dot);  // unseen adds too
      }
      if (bug(kBugCrdtCounterMax) && !d.counter.empty()) {
        auto sum = [](const versions::Cell& c) {
          int64_t i = 0;
          double f = 0;
          bool hf = false;
          c.contribution(&i, &f, &hf);
          return static_cast<double>(i) + f;
        };
        versions::Cell& loser = sum(d) > sum(mine) ? mine : d;
        loser.counter.clear();
        loser.base.clear();
      }
    }
  }
}

bool MultiLeaderEngine::apply_remote_crdt(const Item& it, int64_t now_ms) {
  versions::CrdtObject delta;
  if (!versions::CrdtObject::decode(it.image, &delta)) return malformed(it, "change");
  observe_stamp(it, now_ms);
  versions::CrdtObject& obj = objects_[it.key];
  const int64_t type_before = obj.type.value;
  const versions::Stamped type_was = obj.type, expiry_was = obj.expiry;
  if (bug(kBugCrdtRemoveWins | kBugCrdtCounterMax)) broken_crdt_merge(obj, delta);
  obj.join(delta);
  persist_delta(it.key, obj, delta,
                obj.type != type_was || obj.expiry != expiry_was || !obj.present());
  // The key's latest change as it arrived here (what tombstone collection waits on to be
  // stable), not the greatest stamp: a delta joins whatever its stamp.
  Meta m{it.hlc, it.actor, it.seq, !obj.present()};
  put_meta(it.key, m);
  if (m.tomb) queue_tombstone(it.key, m, now_ms);
  materialize_delta(it.key, delta, type_before, now_ms);
  return true;
}

// --- introspection -------------------------------------------------------------------------

std::vector<ConflictRecord> MultiLeaderEngine::conflicts(size_t count) const {
  std::vector<ConflictRecord> out;
  for (auto it = conflicts_.rbegin(); it != conflicts_.rend() && out.size() < count; ++it)
    out.push_back(*it);
  return out;
}

std::vector<MultiLeaderEngine::PeerLag> MultiLeaderEngine::lag(int64_t /*now_ms*/) const {
  std::vector<PeerLag> out;
  for (uint32_t i = 0; i < peers_.size(); ++i) {
    if (i == self()) continue;
    const Peer& p = peers_[i];
    PeerLag l;
    l.node = i;
    l.known = p.actor != 0;
    l.entries = own_seq_ > p.acked ? own_seq_ - p.acked : 0;
    if (l.entries > 0 && p.acked + 1 >= log_first_ && p.acked + 1 - log_first_ < log_.size()) {
      l.oldest_ms = mono() - log_[p.acked + 1 - log_first_].mono_ms;
    }
    out.push_back(l);
  }
  return out;
}

std::optional<MultiLeaderEngine::Stamp> MultiLeaderEngine::stamp(std::string_view key) const {
  auto it = meta_.find(key);
  if (it == meta_.end()) return std::nullopt;
  return Stamp{it->second.hlc, it->second.actor, it->second.tomb};
}

void MultiLeaderEngine::describe(std::vector<std::pair<std::string, std::string>>* out,
                                 int64_t now_ms) const {
  auto add = [&](std::string k, auto v) { out->emplace_back(std::move(k), fmt::format("{}", v)); };
  add("model", "multi-leader");
  add("conflict", to_string(kc().conflict));
  add("actor", fmt::format("{:x}", actor_));
  add("log_seq", own_seq_);
  add("log_first", log_first_);
  add("log_entries", log_.size());
  add("log_bytes", log_bytes_);
  add("keys_stamped", meta_.size());
  add("tombstones", tombstones_);
  add("local_writes", stats_.local_writes);
  add("entries_applied", stats_.entries_applied);
  add("entries_sent", stats_.entries_sent);
  add("resends", stats_.resends);
  add("lww_discarded", stats_.lww_discarded);
  add("state_transfers_sent", stats_.state_transfers_sent);
  add("state_transfers_received", stats_.state_transfers_received);
  add("tombstones_collected", stats_.tombstones_collected);
  if (crdt_) {
    add("objects", objects_.size());
  }
  if (siblings_) {
    add("versioned_keys", versioned_.size());
    add("keys_with_siblings", multi_sibling_keys_);
    add("siblings_created", stats_.siblings_created);
  }
  add("clock_skew_reports", stats_.clock_skew_reports);
  int64_t ahead = 0;
  for (const auto& [a, s] : skew_) {
    if (mono() - s.seen_ms < 60000) ahead = std::max(ahead, s.ahead_ms);
  }
  add("peer_clock_ahead_ms", ahead);
  add("bad_messages", stats_.bad_messages);
  uint64_t cumulative = 0;  // apply_lag_ms_le_<bound>: entries applied at most that late
  for (size_t b = 0; b < kLagBuckets; ++b) {
    cumulative += lag_hist_[b];
    add(b < std::size(kLagBoundsMs) ? fmt::format("apply_lag_ms_le_{}", kLagBoundsMs[b])
                                    : std::string("apply_lag_ms_le_inf"),
        cumulative);
  }
  for (const PeerLag& l : lag(now_ms)) {
    const std::string& id = node_->config_.nodes[l.node].id;
    add("peer_" + id + "_lag_entries", l.entries);
    add("peer_" + id + "_lag_ms", l.oldest_ms);
    add("peer_" + id + "_known", l.known ? 1 : 0);
  }
}

}  // namespace rkv

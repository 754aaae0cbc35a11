// Store: the client-facing state machine, written once and reused by every replication model.
// It holds each keyspace's keys in memory and executes data commands against them. Execution is
// a deterministic function of (state, command, now_ms): the reply goes to a resp::Writer and
// every change to a key is reported to a ChangeSink, which the engine turns into a storage
// write (single node), a replicated log entry (primary) or a versioned update (later models).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/config.h"
#include "node/eviction.h"
#include "node/key_table.h"
#include "node/zset_index.h"
#include "resp/commands.h"
#include "resp/writer.h"

namespace rkv {

// Receives every change execute() makes, in order. Implementations must not call back into
// the Store. A change to one element of a collection is reported as that element alone, so
// that what a sink writes per HSET or SADD does not grow with the collection:
//  * on_put: a string's whole value, or a collection's head (its type and expiry; the
//    elements are not part of it). A new collection's head comes before its first element.
//  * on_element: one element of the collection at `key` was set (`value`: a hash field's new
//    value, "" for a set member) or removed (`value` null). The key's head exists.
//  * on_erase: the key and, for a collection (`type` says which it was), all its elements.
class ChangeSink {
 public:
  virtual ~ChangeSink() = default;
  virtual void on_put(uint32_t keyspace, std::string_view key, const Value& value) = 0;
  virtual void on_erase(uint32_t keyspace, std::string_view key, ValueType type) = 0;
  virtual void on_element(uint32_t keyspace, std::string_view key, std::string_view element,
                          const std::string* value) = 0;
  virtual void on_clear(uint32_t keyspace) = 0;
};

// A sink that drops changes (reads, tests).
class NullSink final : public ChangeSink {
 public:
  void on_put(uint32_t, std::string_view, const Value&) override {}
  void on_erase(uint32_t, std::string_view, ValueType) override {}
  void on_element(uint32_t, std::string_view, std::string_view, const std::string*) override {}
  void on_clear(uint32_t) override {}
};

struct Keyspace {
  KeyspaceConfig config;
  KeyTable table;
  // (expire_at_ms, key) for every key with a TTL: the active sweep pops from the front.
  std::set<std::pair<int64_t, std::string>> expiries;
  uint64_t expired_keys = 0;   // keys removed because their TTL passed
  uint64_t elements = 0;       // elements of all its collections (snapshot cadence, INFO)
  uint64_t element_bytes = 0;  // bytes of their fields, members and field values
  // Replicated keyspaces change only through their log: a read never erases an expired key
  // (it is treated as absent) and the active sweep leaves them to their leader.
  bool replicated = false;
};

struct StoreLimits {
  uint64_t max_value_len = 512ull << 20;
};

// SCAN's arguments (the Store's SCAN and the node's cluster-wide one share them).
struct ScanRequest {
  uint64_t cursor = 0;
  std::string_view pattern;  // empty: every key ("*" too)
  int64_t count = 10;
  std::string_view type;  // empty: every type
};
// Parses SCAN cursor [MATCH p] [COUNT n] [TYPE t]; false with Redis's error text in *error.
bool parse_scan(std::span<const std::string_view> a, ScanRequest* out, std::string* error);

class Store {
 public:
  // The set algebra of SINTER/SUNION/SDIFF and ZINTER/ZUNION/ZDIFF.
  enum class SetOp { kInter, kUnion, kDiff };

  explicit Store(const std::vector<KeyspaceConfig>& keyspaces, StoreLimits limits = {});

  // Index of the keyspace a key belongs to: the longest matching prefix, else "default".
  uint32_t route(std::string_view key) const;
  // Cache hint for a command on `key` coming soon, in three steps issued a while apart over a
  // batch of keys: 0 the bucket slot, 1 the entry, 2 the value bytes (KeyTable::prefetch_*).
  void prefetch(std::string_view key, int step) const {
    const KeyTable& t = keyspaces_[route(key)].table;
    if (step == 0) {
      t.prefetch_bucket(key);
    } else if (step == 1) {
      t.prefetch_entry(key);
    } else {
      t.prefetch_value(key);
    }
  }
  size_t keyspace_count() const { return keyspaces_.size(); }
  const Keyspace& keyspace(uint32_t i) const { return keyspaces_[i]; }
  int find_keyspace(std::string_view name) const;  // -1 when unknown

  // Executes a data command (a spec whose group is data: strings and generic key commands,
  // KEYSPACES, DBSIZE, FLUSHALL). args[0] is the command name; arity is already checked.
  void execute(const resp::CommandSpec& spec, std::span<const std::string_view> args,
               int64_t now_ms, resp::Writer& w, ChangeSink& sink);

  // Removes up to max_keys keys whose TTL has passed; returns how many.
  size_t sweep_expired(int64_t now_ms, size_t max_keys, ChangeSink& sink);

  // Restores a key while loading from storage (no sink, no expiry check).
  void restore(uint32_t keyspace, std::string_view key, Value value);
  // Restores one element of a collection restored before; false when the key holds no
  // collection.
  bool restore_element(uint32_t keyspace, std::string_view key, std::string_view element,
                       std::string_view value);

  void set_replicated(uint32_t keyspace, bool r) { keyspaces_[keyspace].replicated = r; }
  // What each key's access records (node/eviction.h): its LFU counter when set, else its LRU
  // clock (the default: eviction may be turned on at runtime).
  void set_access_lfu(bool lfu) { access_lfu_ = lfu; }
  // Direct access for undo records (async commit): the entry or nullptr, no expiry check.
  KeyTable::Entry* mutable_entry(uint32_t keyspace, std::string_view key) {
    return keyspaces_[keyspace].table.find(key);
  }
  // Removes a key without reporting a change (undo of a speculative write).
  void erase_key(uint32_t keyspace, std::string_view key) {
    NullSink none;
    erase(keyspace, key, none);
  }
  // While set, lookups in replicated keyspaces may erase expired keys: the caller is applying
  // a log entry, whose now_ms comes from the entry, so every replica erases alike.
  void set_applying(bool a) { applying_ = a; }
  // Applies an expiry decided by a leader: erases key if it has expired at now_ms.
  bool erase_if_expired(uint32_t keyspace, std::string_view key, int64_t now_ms, ChangeSink& sink);
  // Keys of a keyspace that have expired at now_ms, earliest first, at most max.
  std::vector<std::string> expired_keys(uint32_t keyspace, int64_t now_ms, size_t max) const;
  // Removes every key of one keyspace.
  void clear_keyspace(uint32_t keyspace, ChangeSink& sink);
  // A keyspace's whole content as one image (snapshots), and its inverse (replaces content).
  // With `as_of`, the keys it names appear with its values instead (absent where nullopt).
  using KeyOverrides = std::map<std::string, std::optional<Value>, std::less<>>;
  std::string serialize_keyspace(uint32_t keyspace, const KeyOverrides* as_of = nullptr) const;

  // The image of one keyspace (serialize_keyspace's format) built a bounded number of entries
  // at a time while the keyspace keeps changing: it shows the keyspace as it was when the build
  // began (with `as_of` applied). Contract: the owner calls note_change(key) before every
  // change to a key of that keyspace until the build is taken, and abandons the build if the
  // keyspace is replaced or cleared. The Store must outlive it.
  // Cost: the first change of a key during the build copies its value; a key changed after the
  // scan passed it may appear twice in the image, with the same value (loading keeps one).
  class ImageBuild {
   public:
    // `streamed`: the image is taken in parts as it is built (take_part), so no buffer for the
    // whole of it is reserved.
    ImageBuild(const Store& store, uint32_t keyspace, KeyOverrides as_of = {},
               bool streamed = false);
    // The key is about to change: its value as of the build's start is kept, once.
    void note_change(std::string_view key);
    // Visits at least `max_entries` entries (all that remain when fewer). True once complete.
    bool step(size_t max_entries);
    bool done() const { return done_; }
    // The finished image. Precondition: done(), and no part taken.
    std::string take();
    // The image's bytes built since the last part was taken, once there are `min_bytes` of them
    // (or the build is done: all that is left); empty otherwise. The first part starts with the
    // image's count, a placeholder until the build is done: head() is what goes over it.
    std::string take_part(size_t min_bytes);
    // The image's first bytes (its count) as they must finally read. Precondition: done().
    const std::string& head() const { return head_; }
    // Bytes of the image built so far, parts taken included.
    uint64_t size() const { return taken_ + out_.size(); }

   private:
    struct Before {
      std::optional<Value> value;  // nullopt: the key did not exist when the build began
      bool emitted = false;        // written by the scan
    };
    void add(std::string_view key, const Value& v);
    void remember(std::string_view key, std::optional<Value> value);

    const KeyTable& table_;
    // Looked up for every entry the scan visits: hashed, not ordered. before_keys_ holds the
    // keys (which before_ views; a deque never moves them) in the order they were noted, so
    // what is written from them does not depend on the hash table's iteration order.
    std::unordered_map<std::string_view, Before> before_;
    std::deque<std::string> before_keys_;
    std::string out_;
    std::string head_;
    uint64_t taken_ = 0;  // bytes handed out by take_part
    uint64_t count_ = 0;
    uint64_t cursor_ = 0;
    bool done_ = false;
  };
  bool load_keyspace(uint32_t keyspace, std::string_view image, ChangeSink& sink);
  // One key's value as an image (its expiry, type and content, in serialize_keyspace's layout
  // without the key): nullopt when the key is absent (an expired key not yet removed is not).
  std::optional<std::string> key_image(uint32_t keyspace, std::string_view key) const;
  // Replaces the key's value (any type) with an image key_image made, reporting the change;
  // false (nothing changed) when the image is malformed.
  bool put_image(uint32_t keyspace, std::string_view key, std::string_view image, ChangeSink& sink);
  // One value's image (key_image), and its parser: advances *at past it; `out` null only
  // validates. `typed`: images from before types existed have no type byte (strings only).
  static void append_value_image(const Value& v, std::string* out);
  static bool parse_value_image(std::string_view image, size_t* at, bool typed, Value* out);
  // An image of a string (elems: one pair, its value second), hash (field, value), set
  // (member, ignored) or sorted set (member, encode_score's bytes), for put_image.
  static std::string make_image(ValueType t, int64_t expire_at,
                                const std::vector<std::pair<std::string, std::string>>& elems);
  // Sets (value) or removes (nullptr) one element of the hash, set or sorted set at key,
  // reporting the change (none when it holds that already); an emptied key is removed. A
  // sorted set's value is encode_score's bytes, a set's is ignored. False (nothing changed)
  // when the key holds no such collection, or a score is malformed.
  bool set_element(uint32_t keyspace, std::string_view key, std::string_view elem,
                   const std::string* value, ChangeSink& sink);
  // Removes the key (no-op when absent), reporting the change.
  void remove_key(uint32_t keyspace, std::string_view key, ChangeSink& sink);

  // Background work in bounded steps, for the driver's timer: moves up to `buckets` buckets of
  // each key table's resize under way (KeyTable::rehash_step).
  void background_step(size_t buckets);

  // One SCAN step over every keyspace's table (cursor layout in store.cc): the next cursor (0:
  // the iteration is over), or nothing when the cursor names no keyspace.
  std::optional<uint64_t> scan_keys(const ScanRequest& r, int64_t now,
                                    std::vector<std::string_view>* found) const;
  // Every live key matching a glob pattern ("*": all), as KEYS lists them.
  void collect_keys(std::string_view pattern, int64_t now,
                    std::vector<std::string_view>* found) const;
  // Keys plus collection elements: what an image of the keyspace costs to write.
  uint64_t keyspace_weight(uint32_t ks) const {
    return keyspaces_[ks].table.size() + keyspaces_[ks].elements;
  }

  size_t total_keys() const;
  size_t total_bytes() const;
  size_t total_expiring() const;
  uint64_t total_expired() const;

 private:
  KeyTable::Entry* lookup(uint32_t ks, std::string_view key, int64_t now_ms, ChangeSink& sink);
  // Records an access to a key of a keyspace's table (its LRU clock or LFU counter).
  void touch(KeyTable::Entry* e, int64_t now_ms) {
    e->key.set_meta(access_lfu_ ? eviction::lfu_touch(e->key.meta(), now_ms, next_lfu_random())
                                : eviction::lru_clock(now_ms));
  }
  uint64_t next_lfu_random() {
    uint64_t z = (lfu_random_state_ += 0x9E3779B97F4A7C15ull);  // splitmix64
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // `known`: the key's entry when the caller just looked it up (saves a second hash lookup);
  // nullptr: looked up or inserted here.
  void put(uint32_t ks, std::string_view key, std::string_view data, int64_t expire_at,
           ChangeSink& sink, KeyTable::Entry* known = nullptr);
  void set_expire(uint32_t ks, KeyTable::Entry* e, int64_t expire_at);
  // `reported`: the type to report to the sink (a value moved out of the entry already).
  bool erase(uint32_t ks, std::string_view key, ChangeSink& sink,
             const ValueType* reported = nullptr);
  void clear_all(ChangeSink& sink);
  // Adds (sign > 0) or removes a whole collection to/from the keyspace's element counts.
  void count_collection(uint32_t ks, const Collection& c, int sign);
  // Reports a whole value to a sink: a string, or a collection's head and every element.
  static void report_value(uint32_t ks, std::string_view key, const Value& v, ChangeSink& sink);
  // Replaces key's value (any type) with v, reporting it whole. `known`: as for put().
  void put_value(uint32_t ks, std::string_view key, Value v, ChangeSink& sink,
                 KeyTable::Entry* known = nullptr);

  // --- collections (store_collections.cc) ---
  // The key's entry when it holds type t; nullptr when absent. *wrong is set (and the
  // WRONGTYPE error written) when it holds another type.
  KeyTable::Entry* lookup_as(uint32_t ks, std::string_view key, ValueType t, int64_t now,
                             ChangeSink& s, resp::Writer& w, bool* wrong);
  // True (and the WRONGTYPE error written) when e holds a collection: for string commands.
  static bool not_string(const KeyTable::Entry* e, resp::Writer& w);
  // The key's collection of type t, created (and its head reported) when absent. Precondition:
  // the key does not hold another type.
  KeyTable::Entry* lookup_or_create(uint32_t ks, std::string_view key, ValueType t,
                                    KeyTable::Entry* known, ChangeSink& s);
  // Sets one element (hash field value, or "" for a set member); true when it is new.
  // `out`, when given, receives the element's entry.
  bool element_put(uint32_t ks, KeyTable::Entry* e, std::string_view elem, std::string_view value,
                   ChangeSink& s, KeyTable::Entry** out = nullptr);
  // Removes one element; true when it was there. Does not remove an emptied key: callers
  // call drop_if_empty once they are done with the entry.
  bool element_del(uint32_t ks, KeyTable::Entry* e, std::string_view elem, ChangeSink& s);
  void drop_if_empty(uint32_t ks, std::string_view key, ChangeSink& s);
  // The next pseudo-random number of the Store's own generator (read-only random picks).
  uint64_t next_random();
  // SRANDMEMBER's and HRANDFIELD's choice: count > 0 distinct elements (all when there are no
  // more), count < 0 |count| elements that may repeat. Precondition: t is not empty.
  std::vector<const KeyTable::Entry*> random_elements(const KeyTable& t, int64_t count);

  void cmd_hset(std::span<const std::string_view> a, int64_t now, bool hmset, resp::Writer& w,
                ChangeSink& s);
  void cmd_hsetnx(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_hget(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_hmget(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_remove_elements(std::span<const std::string_view> a, int64_t now, ValueType t,
                           resp::Writer& w, ChangeSink& s);
  void cmd_hexists(std::span<const std::string_view> a, int64_t now, resp::Writer& w,
                   ChangeSink& s);
  void cmd_card(std::span<const std::string_view> a, int64_t now, ValueType t, resp::Writer& w,
                ChangeSink& s);
  void cmd_hstrlen(std::span<const std::string_view> a, int64_t now, resp::Writer& w,
                   ChangeSink& s);
  // HKEYS (keys), HVALS (values), HGETALL (both).
  void cmd_hgetall(std::span<const std::string_view> a, int64_t now, bool keys, bool values,
                   resp::Writer& w, ChangeSink& s);
  void cmd_hincrby(std::span<const std::string_view> a, int64_t now, resp::Writer& w,
                   ChangeSink& s);
  void cmd_hincrbyfloat(std::span<const std::string_view> a, int64_t now, resp::Writer& w,
                        ChangeSink& s);
  // HRANDFIELD (t: kHash, WITHVALUES) and ZRANDMEMBER (t: kZset, WITHSCORES).
  void cmd_randfield(std::span<const std::string_view> a, int64_t now, ValueType t, resp::Writer& w,
                     ChangeSink& s);
  // HSCAN, SSCAN and ZSCAN.
  void cmd_cscan(std::span<const std::string_view> a, int64_t now, ValueType t, resp::Writer& w,
                 ChangeSink& s);
  void cmd_sadd(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_sismember(std::span<const std::string_view> a, int64_t now, bool multi, resp::Writer& w,
                     ChangeSink& s);
  void cmd_spop(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_srandmember(std::span<const std::string_view> a, int64_t now, resp::Writer& w,
                       ChangeSink& s);
  void cmd_smove(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  // SINTER SUNION SDIFF SMEMBERS (op on keys a[first..]), with a destination for *STORE.
  void cmd_setop(std::span<const std::string_view> a, int64_t now, SetOp op, bool store,
                 resp::Writer& w, ChangeSink& s);
  void cmd_sintercard(std::span<const std::string_view> a, int64_t now, resp::Writer& w,
                      ChangeSink& s);
  // --- sorted sets (store_zset.cc) ---
  // Sets a member's score (adding the member when new); true when the member is new. The
  // index follows the member table. Precondition: e holds a sorted set; score is not NaN;
  // `old` is the member's entry as the caller just found it (nullptr: not a member).
  bool zset_put(uint32_t ks, KeyTable::Entry* e, std::string_view member, double score,
                const KeyTable::Entry* old, ChangeSink& s);
  // Removes a member; true when it was there. Does not drop an emptied key (drop_if_empty).
  bool zset_del(uint32_t ks, KeyTable::Entry* e, std::string_view member, ChangeSink& s);
  // Replaces `dst` (any type) with a sorted set of `items` (distinct members), or removes it
  // when there are none; replies with the count. The items may view a value dst replaces.
  void zset_store(std::string_view dst, const std::vector<ZItem>& items, int64_t now,
                  resp::Writer& w, ChangeSink& s);
  // ZADD, and ZINCRBY (`incrby`: the INCR form with no options).
  void cmd_zadd(std::span<const std::string_view> a, int64_t now, bool incrby, resp::Writer& w,
                ChangeSink& s);
  // ZSCORE, and ZMSCORE (`multi`).
  void cmd_zscore(std::span<const std::string_view> a, int64_t now, bool multi, resp::Writer& w,
                  ChangeSink& s);
  void cmd_zrank(std::span<const std::string_view> a, int64_t now, bool rev, resp::Writer& w,
                 ChangeSink& s);
  // ZCOUNT, and ZLEXCOUNT (`lex`).
  void cmd_zcount(std::span<const std::string_view> a, int64_t now, bool lex, resp::Writer& w,
                  ChangeSink& s);
  // How a range is given, and which way it is read: kAuto until options decide (ZRANGE).
  enum class ZrangeBy { kAuto, kRank, kScore, kLex };
  enum class ZrangeDir { kAuto, kForward, kReverse };
  // The ZRANGE family: ZRANGE ZRANGESTORE ZREVRANGE Z[REV]RANGEBYSCORE Z[REV]RANGEBYLEX.
  void cmd_zrange(std::span<const std::string_view> a, int64_t now, ZrangeBy by, ZrangeDir dir,
                  bool store, resp::Writer& w, ChangeSink& s);
  void cmd_zrem(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_zremrange(std::span<const std::string_view> a, int64_t now, ZrangeBy by, resp::Writer& w,
                     ChangeSink& s);
  void cmd_zpop(std::span<const std::string_view> a, int64_t now, bool max, resp::Writer& w,
                ChangeSink& s);
  // ZUNION ZINTER ZDIFF (kReply), the *STORE forms with a destination at a[1] (kStore), and
  // ZINTERCARD (kCard). `name`: the command's, for an error text.
  enum class ZsetopOut { kReply, kStore, kCard };
  void cmd_zsetop(std::span<const std::string_view> a, int64_t now, SetOp op, ZsetopOut out,
                  std::string_view name, resp::Writer& w, ChangeSink& s);

  void cmd_object(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);

  // --- lists (store_lists.cc) ---
  // The list of an entry holding one.
  static ListValue& list_of(KeyTable::Entry* e);
  // Adjusts the keyspace's element counts to l's after a change (its counts before it given).
  void list_counted(uint32_t ks, size_t size_before, size_t bytes_before, const ListValue& l);
  // Reports the rows of elements [from, to) (their positions moved, or they changed).
  void list_rows(uint32_t ks, KeyTable::Entry* e, size_t from, size_t to, ChangeSink& s);
  // Reports the rows of positions [from, to) removed.
  void list_unrow(uint32_t ks, KeyTable::Entry* e, uint64_t from, uint64_t to, ChangeSink& s);
  // One element in or out at an end, counted and reported as one row. Popping does not remove
  // an emptied key (drop_if_empty does).
  void list_push(uint32_t ks, KeyTable::Entry* e, std::string_view v, bool front, ChangeSink& s);
  std::string list_pop(uint32_t ks, KeyTable::Entry* e, bool front, ChangeSink& s);
  void move_element(std::span<const std::string_view> a, int64_t now, bool from_front,
                    bool to_front, resp::Writer& w, ChangeSink& s);
  void cmd_push(std::span<const std::string_view> a, int64_t now, bool front, bool existing,
                resp::Writer& w, ChangeSink& s);
  void cmd_pop(std::span<const std::string_view> a, int64_t now, bool front, resp::Writer& w,
               ChangeSink& s);
  void cmd_lrange(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_lindex(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_lset(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_linsert(std::span<const std::string_view> a, int64_t now, resp::Writer& w,
                   ChangeSink& s);
  void cmd_lrem(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_ltrim(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_lpos(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_lmove(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_blmove(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_bpop(std::span<const std::string_view> a, int64_t now, bool front, resp::Writer& w,
                ChangeSink& s);
  void cmd_lmpop(std::span<const std::string_view> a, int64_t now, bool blocking, resp::Writer& w,
                 ChangeSink& s);

  void cmd_get(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_set(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_setnx(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_getdel(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_mget(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_mset(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_del(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_exists(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_incrby(std::string_view key, int64_t delta, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_append(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_strlen(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_expire(std::span<const std::string_view> a, int64_t now, int64_t unit_ms,
                  int64_t base_ms, std::string_view name, resp::Writer& w, ChangeSink& s);
  void cmd_expiretime(std::span<const std::string_view> a, int64_t now, int64_t unit_ms,
                      resp::Writer& w, ChangeSink& s);
  void cmd_rename(std::span<const std::string_view> a, int64_t now, bool nx, resp::Writer& w,
                  ChangeSink& s);
  void cmd_copy(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_randomkey(int64_t now, resp::Writer& w);
  // Strings and bitmaps beyond the basics (store_strings.cc).
  void cmd_setex(std::span<const std::string_view> a, int64_t now, int64_t unit_ms,
                 std::string_view name, resp::Writer& w, ChangeSink& s);
  void cmd_getex(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_getset(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_msetnx(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_incrbyfloat(std::span<const std::string_view> a, int64_t now, resp::Writer& w,
                       ChangeSink& s);
  void cmd_setrange(std::span<const std::string_view> a, int64_t now, resp::Writer& w,
                    ChangeSink& s);
  void cmd_getrange(std::span<const std::string_view> a, int64_t now, resp::Writer& w,
                    ChangeSink& s);
  void cmd_lcs(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_setbit(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_getbit(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_bitcount(std::span<const std::string_view> a, int64_t now, resp::Writer& w,
                    ChangeSink& s);
  void cmd_bitpos(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_ttl(std::span<const std::string_view> a, int64_t now, int64_t unit_ms, resp::Writer& w,
               ChangeSink& s);
  void cmd_persist(std::span<const std::string_view> a, int64_t now, resp::Writer& w,
                   ChangeSink& s);
  void cmd_type(std::span<const std::string_view> a, int64_t now, resp::Writer& w, ChangeSink& s);
  void cmd_scan(std::span<const std::string_view> a, int64_t now, resp::Writer& w);
  void cmd_keys(std::span<const std::string_view> a, int64_t now, resp::Writer& w);
  void cmd_keyspaces(resp::Writer& w);

  std::vector<Keyspace> keyspaces_;
  uint32_t default_index_ = 0;
  StoreLimits limits_;
  bool applying_ = false;
  // RANDOMKEY's generator (splitmix64), fixed seed: no clock or OS randomness in the Store.
  uint64_t random_state_ = 0x5eed5eed5eed5eedull;
  // LFU counters' own generator: reads (leader only) draw from it, so it must not be the one
  // whose draws decide what a replicated write does.
  uint64_t lfu_random_state_ = 0x1f0c1f0c1f0c1f0cull;
  bool access_lfu_ = false;
  int64_t now_ms_ = 0;  // the time of the command executing (new keys' access)
};

// Strict integer parsing as Redis does it: optional '-', digits, no leading zeros or spaces.
bool parse_int64(std::string_view s, int64_t* out);

// The timeout argument of a blocking command (float seconds) as Redis reads it: "" with *ms
// set (0: wait forever), or the error reply. now_ms: the clock the deadline will be on.
std::string_view parse_block_timeout(std::string_view s, int64_t now_ms, int64_t* ms);

}  // namespace rkv

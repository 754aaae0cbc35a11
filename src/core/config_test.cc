#include "core/config.h"

#include <gtest/gtest.h>

#include <span>
#include <utility>

namespace rkv {
namespace {

TEST(Config, DefaultsHaveDemoKeyspaces) {
  Config c = Config::defaults();
  ASSERT_EQ(c.keyspaces.size(), 4u);
  EXPECT_EQ(c.keyspaces[0].name, "default");
  EXPECT_EQ(c.keyspaces[1].prefix, "accounts:");
  EXPECT_EQ(c.keyspaces[2].model, Model::kMultiLeader);
  EXPECT_EQ(c.keyspaces[3].model, Model::kLeaderless);
}

TEST(Config, ParsesFullFile) {
  auto r = parse_config(R"(
[node]
id = "n2"
port = 7400
admin_port = 0
data_dir = "/tmp/x"
fsync = "always"
disk_reserve_bytes = 1048576

[limits]
max_bulk_len = 1048576
idle_timeout_ms = 5000

[raft]
max_inflight_msgs = 4
async_append_delay_us = 500
snapshot_log_bytes = 8388608

[cluster]
secret = "s3cret"
[[cluster.node]]
id = "n1"
port = 7399
[[cluster.node]]
id = "n2"
port = 7400
peer_port = 9000

[[keyspace]]
name = "accounts"
model = "primary"
commit = "async"
read = "follower"

[[keyspace]]
name = "prefs"
prefix = "p/"
model = "leaderless"
n = 2
r = 1
w = 2
)");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const Config& c = r.value();
  EXPECT_EQ(c.node_id, "n2");
  EXPECT_EQ(c.port, 7400);
  EXPECT_EQ(c.admin_port, 0);
  EXPECT_EQ(c.fsync, FsyncMode::kAlways);
  EXPECT_EQ(c.disk_reserve_bytes, 1048576u);
  EXPECT_EQ(Config::defaults().disk_reserve_bytes, 64ull << 20);
  EXPECT_EQ(c.limits.max_bulk_len, 1048576u);
  EXPECT_EQ(c.limits.idle_timeout_ms, 5000u);
  EXPECT_EQ(c.raft.max_inflight_msgs, 4u);
  EXPECT_EQ(c.raft.snapshot_log_bytes, 8388608u);
  EXPECT_EQ(c.raft.async_append_delay_us, 500u);
  ASSERT_EQ(c.nodes.size(), 2u);
  EXPECT_EQ(c.nodes[0].peer_port, 17399);
  EXPECT_EQ(c.nodes[1].peer_port, 9000);
  ASSERT_EQ(c.keyspaces.size(), 3u);  // default added
  EXPECT_EQ(c.keyspaces[0].name, "default");
  EXPECT_EQ(c.keyspaces[1].prefix, "accounts:");
  EXPECT_EQ(c.keyspaces[1].commit, CommitMode::kAsync);
  EXPECT_EQ(c.keyspaces[1].read, ReadMode::kFollower);
  EXPECT_EQ(c.keyspaces[2].prefix, "p/");
  EXPECT_EQ(c.keyspaces[2].w, 2);
}

struct BadCase {
  const char* text;
  const char* expect;  // substring of the error
};

// Each case's text is refused with an error containing its `expect`.
void expect_errors(std::span<const BadCase> cases) {
  for (const auto& bc : cases) {
    auto r = parse_config(bc.text);
    ASSERT_FALSE(r.is_ok()) << bc.text;
    EXPECT_NE(r.status().message().find(bc.expect), std::string::npos)
        << "got: " << r.status().message() << "\nwanted: " << bc.expect;
  }
}

TEST(Config, ErrorsNameTheLine) {
  const BadCase cases[] = {
      {"[node]\nport = 99999\n", "config:2: \"port\" = 99999 is out of range"},
      {"[node]\nfsync = \"sometimes\"\n", "config:2: unknown fsync \"sometimes\""},
      {"\n\n[[keyspace]]\nname = \"x\"\nmodel = \"paxos\"\n", "config:5: unknown model \"paxos\""},
      {"[[keyspace]]\nname = \"x\"\n", "needs a \"model\""},
      {"[[keyspace]]\nname = \"x\"\nmodel = \"primary\"\nn = 3\n",
       "config:4: \"n\" applies only to model \"leaderless\""},
      {"[[keyspace]]\nname = \"x\"\nmodel = \"leaderless\"\nn = 2\nr = 3\n", "must not exceed n"},
      {"[node]\nprot = 1\n", "config:2: unknown key \"prot\" in [node]"},
      {"[node\n", "config:1:"},
      {"[[keyspace]]\nname = \"a\"\nmodel = \"primary\"\n[[keyspace]]\nname = \"a\"\nmodel = "
       "\"primary\"\n",
       "declared twice"},
      {"[[keyspace]]\nname = \"a\"\nprefix = \"x\"\nmodel = \"primary\"\n[[keyspace]]\nname = "
       "\"b\"\nprefix = \"x\"\nmodel = \"primary\"\n",
       "used by two keyspaces"},
      {"[node]\nid = \"n9\"\n[[cluster.node]]\nid = \"n1\"\nport = 1\n", "not among"},
      {"[node]\nport = \"abc\"\n", "must be an integer"},
      {"[node]\ndisk_reserve_bytes = -1\n",
       "config:2: \"disk_reserve_bytes\" = -1 is out of range"},
      {"[raft]\nasync_append_delay_us = 100001\n",
       "config:2: \"async_append_delay_us\" = 100001 is out of range"},
      {"[raft]\nsnapshot_log_bytes = 100\n",
       "config:2: \"snapshot_log_bytes\" = 100 is out of range"},
  };
  expect_errors(cases);
}

TEST(Config, RegionsAreOptionalAndKeptPerNode) {
  auto none = parse_config("[[cluster.node]]\nid = \"n1\"\nport = 1\n");
  ASSERT_TRUE(none.is_ok()) << none.status().to_string();
  EXPECT_EQ(none.value().nodes[0].region, "");

  auto r = parse_config(R"(
[[cluster.node]]
id = "n1"
port = 7001
region = "eu-west.1"
[[cluster.node]]
id = "n2"
port = 7002
region = "us_EAST-2"
[[cluster.node]]
id = "n3"
port = 7003
region = "eu-west.1"
)");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_EQ(r.value().nodes.size(), 3u);
  EXPECT_EQ(r.value().nodes[0].region, "eu-west.1");
  EXPECT_EQ(r.value().nodes[1].region, "us_EAST-2");
  EXPECT_EQ(r.value().nodes[2].region, "eu-west.1");
}

TEST(Config, RegionNamesAreValidated) {
  EXPECT_TRUE(valid_region_name("a"));
  EXPECT_TRUE(valid_region_name(std::string(kMaxRegionLen, 'r')));
  EXPECT_FALSE(valid_region_name(""));
  EXPECT_FALSE(valid_region_name(std::string(kMaxRegionLen + 1, 'r')));
  for (const char* bad : {"eu west", "eu/west", "eu,west", "eu=west", "\xc3\xa9u", "r\n"}) {
    EXPECT_FALSE(valid_region_name(bad)) << bad;
  }
  const BadCase cases[] = {
      {"[[cluster.node]]\nid = \"n1\"\nport = 1\nregion = \"\"\n",
       "config:4: region \"\" of node \"n1\" must be 1 to 64 characters"},
      {"[[cluster.node]]\nid = \"n1\"\nport = 1\nregion = \"eu west\"\n",
       "config:4: region \"eu west\""},
      {"[[cluster.node]]\nid = \"n1\"\nport = 1\nregion = 3\n",
       "config:4: \"region\" must be a string"},
      {"[[cluster.node]]\nid = \"n1\"\nport = 1\nregion = \"eu\"\n[[cluster.node]]\nid = "
       "\"n2\"\nport = 2\n",
       "cluster node \"n2\" declares no region while others do"},
      {"[[cluster.node]]\nid = \"n1\"\nport = 1\n[[cluster.node]]\nid = \"n2\"\nport = "
       "2\nregion = \"eu\"\n",
       "cluster node \"n1\" declares no region while others do"},
  };
  expect_errors(cases);
  // Configs built in code go through the same rule.
  Config c;
  c.nodes = {PeerConfig{"n1", "127.0.0.1", 1, 2, "bad region"}};
  c.node_id = "n1";
  Status st = validate_config(c);
  EXPECT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("region \"bad region\""), std::string::npos) << st.message();
}

TEST(Config, MemoryLimitTakesRedisUnitsAndPolicies) {
  auto r = parse_config(
      "[memory]\nmaxmemory = \"50mb\"\nmaxmemory_policy = \"allkeys-lru\"\n"
      "maxmemory_samples = 10\n");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->memory.maxmemory, 50ull << 20);
  EXPECT_EQ(r->memory.policy, MaxmemoryPolicy::kAllkeysLru);
  EXPECT_EQ(r->memory.samples, 10u);
  auto plain = parse_config("[memory]\nmaxmemory = 1000000\n");
  ASSERT_TRUE(plain.is_ok());
  EXPECT_EQ(plain->memory.maxmemory, 1000000u);
  EXPECT_EQ(plain->memory.policy, MaxmemoryPolicy::kNoEviction);  // the default, as Redis
  EXPECT_EQ(plain->memory.samples, 5u);

  uint64_t n = 0;
  for (auto [text, want] :
       std::initializer_list<std::pair<const char*, uint64_t>>{{"0", 0},
                                                               {"100", 100},
                                                               {"1k", 1000},
                                                               {"1KB", 1024},
                                                               {"2m", 2000000},
                                                               {"2mb", 2u << 20},
                                                               {"1g", 1000000000},
                                                               {"1gb", 1u << 30},
                                                               {"7b", 7}}) {
    ASSERT_TRUE(parse_memory_bytes(text, &n)) << text;
    EXPECT_EQ(n, want) << text;
  }
  for (const char* bad : {"", "mb", "1tb", "-1", "1.5gb", "1 mb", "99999999999999999999"})
    EXPECT_FALSE(parse_memory_bytes(bad, &n)) << bad;
  MaxmemoryPolicy p;
  for (const char* name : {"noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random",
                           "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"}) {
    ASSERT_TRUE(parse_maxmemory_policy(name, &p)) << name;
    EXPECT_STREQ(to_string(p), name);
  }
  EXPECT_TRUE(parse_maxmemory_policy("ALLKEYS-LRU", &p));
  EXPECT_FALSE(parse_maxmemory_policy("lru", &p));

  const BadCase cases[] = {
      {"[memory]\nmaxmemory = \"lots\"\n", "config:2: \"maxmemory\" must be a byte count"},
      {"[memory]\nmaxmemory = -5\n", "config:2: \"maxmemory\" must be a byte count"},
      {"[memory]\nmaxmemory_policy = \"lru\"\n", "config:2: \"maxmemory_policy\" must be one"},
      {"[memory]\nmaxmemory_samples = 0\n", "config:2: \"maxmemory_samples\" = 0 is out of range"},
      {"[memory]\nmax_memory = 1\n", "config:2: unknown key \"max_memory\" in [memory]"},
  };
  expect_errors(cases);
}

TEST(Config, ParsesTls) {
  auto r = parse_config(R"(
[node]
port = 0
[tls]
port = 6380
cert_file = "/c.crt"
key_file = "/c.key"
ca_cert_file = "/ca.crt"
auth_clients = "optional"
protocols = "TLSv1.3"
ciphersuites = "TLS_AES_128_GCM_SHA256"
replication = true
admin = true
)");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const Config& c = r.value();
  EXPECT_EQ(c.port, 0);
  EXPECT_EQ(c.tls.port, 6380);
  EXPECT_EQ(c.tls.cert_file, "/c.crt");
  EXPECT_EQ(c.tls.auth_clients, TlsAuthClients::kOptional);
  EXPECT_EQ(c.tls.protocols, "TLSv1.3");
  EXPECT_TRUE(c.tls.replication);
  EXPECT_TRUE(c.tls.admin);
  EXPECT_TRUE(c.tls.enabled());
  EXPECT_FALSE(Config::defaults().tls.enabled());
}

TEST(Config, TlsRules) {
  const std::string files = "cert_file = \"/c\"\nkey_file = \"/k\"\n";
  std::vector<std::pair<std::string, std::string>> cases = {
      {"[node]\nport = 0\n", "port = 0 turns the plain client port off"},
      {"[tls]\nport = 6380\n", "[tls] needs cert_file and key_file"},
      {"[tls]\nport = 6380\n" + files, "[tls] needs ca_cert_file"},
      {"[tls]\nreplication = true\nauth_clients = \"no\"\n" + files, "needs ca_cert_file"},
      {"[tls]\nauth_clients = \"maybe\"\n", "config:2: unknown auth_clients \"maybe\""},
      {"[tls]\nadmin = \"yes\"\n", "config:2: \"admin\" must be true or false"},
      {"[tls]\nbogus = 1\n", "unknown key \"bogus\" in [tls]"},
      {"[node]\nport = 7000\n[tls]\nport = 7000\nauth_clients = \"no\"\n" + files,
       "[tls] port 7000 is also the plain port"},
  };
  for (const auto& [text, want] : cases) {
    auto r = parse_config(text);
    ASSERT_FALSE(r.is_ok()) << text;
    EXPECT_NE(r.status().message().find(want), std::string::npos)
        << text << " -> " << r.status().message();
  }
  // TLS with client certificates off needs no CA.
  EXPECT_TRUE(parse_config("[tls]\nport = 6380\nauth_clients = \"no\"\n" + files).is_ok());
}

TEST(Config, MissingFileIsAClearError) {
  auto r = load_config_file("/nonexistent/replikv.toml");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("cannot open config file"), std::string::npos);
}

TEST(Config, UsersKeepTheirRulesAndLines) {
  auto r = parse_config(R"([[user]]
name = "alice"
rules = "on >pw  ~prefs:* +@read"

[[user]]
name = "bob"
rules = ["on", ">a pass with spaces", "%R~accounts:*"]
)",
                        "users.toml");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ(r->users.size(), 2u);
  EXPECT_EQ(r->users[0].name, "alice");
  EXPECT_EQ(r->users[0].rules, (std::vector<std::string>{"on", ">pw", "~prefs:*", "+@read"}));
  EXPECT_EQ(r->users[0].where, "users.toml:1");
  EXPECT_EQ(r->users[1].rules[1], ">a pass with spaces");
  EXPECT_EQ(r->users[1].where, "users.toml:5");
}

TEST(Config, BadUsersNameTheLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"[[user]]\nrules = \"on\"\n", "x:1: [[user]] needs a \"name\""},
      {"[[user]]\nname = \"a\"\n[[user]]\nname = \"a\"\n", "x:3: user \"a\" is declared twice"},
      {"[[user]]\nname = \"a\"\nrules = 3\n", "x:3: \"rules\" must be a string or an array"},
      {"[[user]]\nname = \"a\"\npassword = \"x\"\n", "x:3: unknown key \"password\" in [[user]]"},
      {"[user]\nname = \"a\"\n", "user must be written [[user]]"},
  };
  for (const auto& [text, want] : cases) {
    auto r = parse_config(text, "x");
    ASSERT_FALSE(r.is_ok()) << text;
    EXPECT_NE(r.status().message().find(want), std::string::npos) << r.status().message();
  }
}

}  // namespace
}  // namespace rkv

#include "sim/staleness.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace rkv::sim {
namespace {

DelayDist dist(std::string_view spec) {
  std::string error;
  std::optional<DelayDist> d = DelayDist::parse(spec, &error);
  EXPECT_TRUE(d.has_value()) << error;
  return d.value_or(DelayDist{});
}

StalenessOptions options(int n, int r, int w, std::string_view wreq, std::string_view wack,
                         std::string_view rreq, std::string_view rresp) {
  StalenessOptions o;
  o.n = n;
  o.r = r;
  o.w = w;
  o.write_req = dist(wreq);
  o.write_ack = dist(wack);
  o.read_req = dist(rreq);
  o.read_resp = dist(rresp);
  return o;
}

// Four standard errors of a proportion: a generous band for a seeded, fixed-size sample.
double band(double p, uint64_t trials) {
  return 4 * std::sqrt(p * (1 - p) / static_cast<double>(trials)) + 1e-12;
}

std::string random_spec(Random& rng) {
  auto value = [&](double lo, double hi) { return lo + (hi - lo) * rng.unit(); };
  auto one = [&]() -> std::string {
    switch (rng.uniform(4)) {
      case 0:
        return "const:" + std::to_string(value(0, 20));
      case 1: {
        const double a = value(0, 10);
        return "uniform:" + std::to_string(a) + ":" + std::to_string(a + value(0, 50));
      }
      case 2:
        return "exp:" + std::to_string(value(0.01, 30)) +
               (rng.chance(0.5) ? "+" + std::to_string(value(0, 5)) : "");
      default:
        return "pareto:" + std::to_string(value(0.1, 10)) + ":" + std::to_string(value(0.3, 4));
    }
  };
  const uint64_t terms = 1 + rng.uniform(3);
  if (terms == 1) return one();
  std::string s;
  for (uint64_t i = 0; i < terms; ++i)
    s += (i ? " + " : "") + std::to_string(value(0.05, 3)) + "*" + one();
  return s;
}

// --- the model --------------------------------------------------------------------------------

TEST(Staleness, StrictQuorumIsExactlyOneAtEveryTForAnyDelays) {
  Random rng(42);
  for (int iter = 0; iter < 300; ++iter) {
    StalenessOptions o;
    o.n = 1 + static_cast<int>(rng.uniform(7));
    o.r = 1 + static_cast<int>(rng.uniform(static_cast<uint64_t>(o.n)));
    o.w = o.n + 1 - o.r + static_cast<int>(rng.uniform(static_cast<uint64_t>(o.r)));  // R+W>N
    o.write_req = dist(random_spec(rng));
    o.write_ack = dist(random_spec(rng));
    o.read_req = dist(random_spec(rng));
    o.read_resp = dist(random_spec(rng));
    o.trials = 2000;
    o.seed = rng.next();
    o.t_ms = {0, 0.001, 1, 1000};
    ASSERT_GT(o.r + o.w, o.n);
    const StalenessResult res = measure_staleness(o);
    for (size_t k = 0; k < o.t_ms.size(); ++k)
      ASSERT_EQ(res.p_consistent[k], 1.0) << format_staleness(o, res);
    EXPECT_NE(format_staleness(o, res).find("holds exactly"), std::string::npos);
  }
}

TEST(Staleness, PartialQuorumCanBeStale) {
  const StalenessOptions o = options(3, 1, 1, "exp:1", "exp:1", "exp:1", "exp:1");
  const StalenessResult res = measure_staleness(o);
  EXPECT_LT(res.p_consistent[0], 0.95);
  EXPECT_NE(format_staleness(o, res).find("partial quorum"), std::string::npos);
}

// Every replica receives the write at 1 and acks at 2 (the write latency); the read reaches
// every replica at 3 + t > 1, so even N=3 R=1 W=1 is always consistent; reads take 2.
TEST(Staleness, EqualConstantDelaysAreAlwaysConsistent) {
  StalenessOptions o = options(3, 1, 1, "const:1", "const:1", "const:1", "const:1");
  o.trials = 1000;
  const StalenessResult res = measure_staleness(o);
  for (const double p : res.p_consistent)
    EXPECT_EQ(p, 1.0);
  EXPECT_EQ(res.write_latency_p50, 2.0);
  EXPECT_EQ(res.write_latency_p99, 2.0);
  EXPECT_EQ(res.read_latency_p50, 2.0);
  EXPECT_EQ(res.read_latency_p99, 2.0);
}

// N=3 R=1 W=1, write request 1 ms or 11 ms with probability 1/2 each, A = R = S = 1 ms. All
// answers arrive together, so the read takes replica 0's (ties go to the lower index). The write
// is acked at min(W_i) + 1 and replica 0 holds it when the read arrives, at min(W_i) + 2 + t,
// unless W_0 = 11 while some other W_j = 1 and t < 8. So P = 1 - (1/2)(1 - 1/4) = 0.625 for
// t < 8 and 1 from t = 8 on; the write latency is 2 unless all three drew 11 (p = 1/8).
TEST(Staleness, TwoPointWriteDelaysMatchTheHandComputedAnswer) {
  StalenessOptions o =
      options(3, 1, 1, "0.5*const:1 + 0.5*const:11", "const:1", "const:1", "const:1");
  o.t_ms = {0, 5, 7.999, 8, 100};
  const StalenessResult res = measure_staleness(o);
  const std::vector<double> want = {0.625, 0.625, 0.625, 1.0, 1.0};
  for (size_t k = 0; k < want.size(); ++k)
    EXPECT_NEAR(res.p_consistent[k], want[k], band(want[k], o.trials)) << o.t_ms[k];
  EXPECT_EQ(res.p_consistent[3], 1.0);
  EXPECT_EQ(res.write_latency_p50, 2.0);
  EXPECT_EQ(res.write_latency_p99, 12.0);
  EXPECT_EQ(res.read_latency_p99, 2.0);
}

// W_i ~ exp(mean m), A = R = 0, S continuous: the write is acked at min W_i and the replicas
// that hold it at ack + t are the first one plus each other whose excess over the minimum (an
// independent exp(m), by memorylessness) is <= t. The answering set is a uniform random one.
//   R=1: P = 1 - (N-1)/N * e^(-t/m)           R=2, N=3: P = 1 - (1/3) e^(-2t/m)
TEST(Staleness, ExponentialWritesMatchTheClosedForm) {
  const double m = 2;
  StalenessOptions o = options(3, 1, 1, "exp:2", "const:0", "const:0", "exp:1");
  o.t_ms = {0, 0.5, 1, 2, 5, 10};
  const StalenessResult one = measure_staleness(o);
  o.r = 2;
  const StalenessResult two = measure_staleness(o);
  for (size_t k = 0; k < o.t_ms.size(); ++k) {
    const double t = o.t_ms[k];
    const double p1 = 1 - (2.0 / 3) * std::exp(-t / m);
    const double p2 = 1 - (1.0 / 3) * std::exp(-2 * t / m);
    EXPECT_NEAR(one.p_consistent[k], p1, band(p1, o.trials)) << "R=1 t=" << t;
    EXPECT_NEAR(two.p_consistent[k], p2, band(p2, o.trials)) << "R=2 t=" << t;
    EXPECT_NEAR(one.ci95_half_width[k], 1.96 * std::sqrt(p1 * (1 - p1) / 1e5), 1e-3);
  }
}

// Each trial's answering set is fixed and holding only grows with t, so the curve is
// non-decreasing exactly (hence also within any confidence interval).
TEST(Staleness, MonotoneNonDecreasingInT) {
  Random rng(7);
  for (int iter = 0; iter < 20; ++iter) {
    StalenessOptions o;
    o.n = 2 + static_cast<int>(rng.uniform(5));
    o.r = 1 + static_cast<int>(rng.uniform(static_cast<uint64_t>(o.n)));
    o.w = 1 + static_cast<int>(rng.uniform(static_cast<uint64_t>(o.n + 1 - o.r)));  // R+W<=N
    o.write_req = dist(random_spec(rng));
    o.write_ack = dist(random_spec(rng));
    o.read_req = dist(random_spec(rng));
    o.read_resp = dist(random_spec(rng));
    o.trials = 20000;
    o.seed = rng.next();
    const StalenessResult res = measure_staleness(o);
    for (size_t k = 1; k < o.t_ms.size(); ++k) {
      EXPECT_GE(res.p_consistent[k], res.p_consistent[k - 1]) << format_staleness(o, res);
      EXPECT_GE(res.p_consistent[k] + res.ci95_half_width[k],
                res.p_consistent[k - 1] - res.ci95_half_width[k - 1]);
    }
  }
}

TEST(Staleness, SameSeedSameResultOtherSeedOtherResult) {
  StalenessOptions o =
      options(5, 2, 2, "0.8*exp:1 + 0.2*pareto:3:1.5", "uniform:0.1:2", "exp:0.5+0.2", "exp:0.7");
  o.trials = 30000;
  const StalenessResult a = measure_staleness(o);
  const StalenessResult b = measure_staleness(o);
  EXPECT_EQ(a.p_consistent, b.p_consistent);
  EXPECT_EQ(a.ci95_half_width, b.ci95_half_width);
  EXPECT_EQ(a.write_latency_p50, b.write_latency_p50);
  EXPECT_EQ(a.write_latency_p99, b.write_latency_p99);
  EXPECT_EQ(a.read_latency_p50, b.read_latency_p50);
  EXPECT_EQ(a.read_latency_p99, b.read_latency_p99);
  EXPECT_EQ(format_staleness(o, a), format_staleness(o, b));
  o.seed = 2;
  const StalenessResult c = measure_staleness(o);
  EXPECT_NE(a.p_consistent, c.p_consistent);
  EXPECT_NE(a.write_latency_p50, c.write_latency_p50);
}

TEST(Staleness, FasterReadRequestsAreStalerAtZero) {
  const StalenessOptions base = options(3, 1, 1, "exp:1", "exp:1", "exp:1", "exp:1");
  StalenessOptions fast = base;
  fast.read_req = dist("exp:0.1");
  const StalenessResult b = measure_staleness(base), f = measure_staleness(fast);
  EXPECT_LT(f.p_consistent[0] + f.ci95_half_width[0], b.p_consistent[0] - b.ci95_half_width[0]);
}

TEST(Staleness, SlowerWritePropagationIsStaler) {
  const StalenessOptions base = options(3, 1, 1, "exp:1", "exp:1", "exp:1", "exp:1");
  StalenessOptions slow = base;
  slow.write_req = dist("exp:10");
  const StalenessResult b = measure_staleness(base), s = measure_staleness(slow);
  for (size_t k = 0; k < 4; ++k) {  // t = 0, 1, 2, 5: not yet converged
    EXPECT_LT(s.p_consistent[k] + s.ci95_half_width[k], b.p_consistent[k] - b.ci95_half_width[k])
        << base.t_ms[k];
  }
}

TEST(Staleness, ValidateRejectsOutOfRangeOptions) {
  std::string error;
  EXPECT_TRUE(validate_staleness(StalenessOptions{}, &error)) << error;
  auto rejects = [&](const StalenessOptions& o, std::string_view what) {
    EXPECT_FALSE(validate_staleness(o, &error)) << what;
    EXPECT_NE(error.find(what), std::string::npos) << error;
  };
  StalenessOptions o;
  o.n = 0;
  rejects(o, "N = 0");
  o = {};
  o.n = kMaxStalenessReplicas + 1;
  rejects(o, "N = 65");
  o = {};
  o.r = 4;
  rejects(o, "R = 4");
  o = {};
  o.w = 0;
  rejects(o, "W = 0");
  o = {};
  o.trials = 0;
  rejects(o, "trials = 0");
  o = {};
  o.t_ms = {};
  rejects(o, "values of t");
  o = {};
  o.t_ms = {1, -1};
  rejects(o, "t = -1");
  o = {};
  o.t_ms = {std::nan("")};
  rejects(o, "t = nan");
}

TEST(Staleness, FormatShowsSettingsRowsAndLatencies) {
  StalenessOptions o = options(3, 2, 1, "exp:1", "exp:1", "exp:1", "exp:1");
  o.trials = 5000;
  const std::string text = format_staleness(o, measure_staleness(o));
  for (const char* want : {"N=3 R=2 W=1", "5000 trials", "exp:1 (mean 1 ms)", "P(consistent)",
                           "±95% CI", "write latency p50", "read latency p50", "    1000  ",
                           "R + W = 3 <= N = 3: partial quorum"})
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
}

// --- delay distributions ----------------------------------------------------------------------

TEST(DelayDist, MixtureParsesAndItsSampleMeanMatchesTheAnalyticMean) {
  // 0.9 * 1 + 0.1 * (3 * 10 / 2) = 2.4; variance 26.04, so the 1e6-draw standard error is 0.005.
  const DelayDist d = dist("0.9*exp:1 + 0.1*pareto:10:3");
  ASSERT_EQ(d.components.size(), 2u);
  EXPECT_DOUBLE_EQ(d.mean(), 2.4);
  Random rng(3);
  double sum = 0;
  const int draws = 1'000'000;
  for (int i = 0; i < draws; ++i) {
    const double x = d.draw(rng);
    ASSERT_GE(x, 0);
    sum += x;
  }
  EXPECT_NEAR(sum / draws, 2.4, 0.03);

  // Unnormalised weights and every kind: (2/4)(2 + 0.5) + (1/4)(2) + (1/4)(4) = 2.75.
  const DelayDist e = dist(" 2 * EXP:2 + 0.5 + 1*uniform:1:3 + 1*const:4 ");
  EXPECT_DOUBLE_EQ(e.components[0].weight, 0.5);
  EXPECT_DOUBLE_EQ(e.components[0].offset, 0.5);
  EXPECT_DOUBLE_EQ(e.mean(), 2.75);
  sum = 0;
  for (int i = 0; i < draws; ++i)
    sum += e.draw(rng);
  EXPECT_NEAR(sum / draws, 2.75, 0.01);
}

TEST(DelayDist, EachKindDrawsFromItsSupport) {
  Random rng(5);
  const DelayDist c = dist("const:1.5"), u = dist("uniform:0.5:3"), p = dist("pareto:2:1.5"),
                  x = dist("exp:2+0.5");
  double exp_sum = 0;
  for (int i = 0; i < 200000; ++i) {
    EXPECT_EQ(c.draw(rng), 1.5);
    const double a = u.draw(rng);
    EXPECT_TRUE(a >= 0.5 && a <= 3) << a;
    EXPECT_GE(p.draw(rng), 2);
    const double b = x.draw(rng);
    EXPECT_GE(b, 0.5);
    exp_sum += b;
  }
  EXPECT_NEAR(exp_sum / 200000, 2.5, 0.03);
  EXPECT_EQ(DelayDist{}.draw(rng), 0.0);  // default: const:0
  // A shape so heavy that draws overflow double is clamped to the limit.
  const DelayDist heavy = dist("pareto:1:0.01");
  for (int i = 0; i < 1000; ++i)
    EXPECT_LE(heavy.draw(rng), kMaxDelayMs);
  EXPECT_TRUE(std::isinf(heavy.mean()));
}

TEST(DelayDist, DescribeIsCanonicalAndParsesBack) {
  for (const char* spec : {"const:1", "uniform:0.5:3", "exp:2", "exp:2+0.5", "pareto:1:1.5",
                           "0.9*exp:1 + 0.1*pareto:10:1.2", "0.5*const:0 + 0.5*uniform:1:2+3"}) {
    const DelayDist d = dist(spec);
    EXPECT_EQ(d.describe(), spec);
    EXPECT_EQ(dist(d.describe()).describe(), spec);
  }
  EXPECT_EQ(dist("1e+0*exp:1e1 + 3*const:2.5E-1").describe(), "0.25*exp:10 + 0.75*const:0.25");
  EXPECT_EQ(DelayDist::exponential(1, 0.5).describe(), "exp:1+0.5");
  EXPECT_EQ(DelayDist::pareto(10, 1.2).describe(), "pareto:10:1.2");
  EXPECT_EQ(DelayDist::uniform(0, 1).describe(), "uniform:0:1");
  EXPECT_EQ(DelayDist::constant(7).describe(), "const:7");
}

TEST(DelayDist, EachParseErrorSaysWhatIsWrong) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty"},
      {"   ", "empty"},
      {"gauss:1", "unknown distribution 'gauss'"},
      {"exp", "'exp' takes 1 parameter (exp:MEAN), got 0"},
      {"exp:", "'' is not a finite number"},
      {"exp:1:2", "'exp' takes 1 parameter (exp:MEAN), got 2"},
      {"uniform:1", "'uniform' takes 2 parameters (uniform:A:B), got 1"},
      {"pareto:1", "'pareto' takes 2 parameters (pareto:XM:ALPHA), got 1"},
      {"const:abc", "parameter 'abc' is not a finite number"},
      {"const:1x", "parameter '1x' is not a finite number"},
      {"exp:inf", "parameter 'inf' is not a finite number"},
      {"exp:nan", "parameter 'nan' is not a finite number"},
      {"const:-1", "C must be >= 0"},
      {"uniform:-1:2", "A must be >= 0"},
      {"uniform:3:2", "A must be <= B"},
      {"exp:0", "MEAN must be > 0"},
      {"pareto:0:1", "XM must be > 0"},
      {"pareto:1:0", "ALPHA must be > 0"},
      {"exp:1e10", "exceeds the limit"},
      {"exp:1+-1", "offset -1 must be >= 0"},
      {"exp:1+0.5+0.5", "second offset 0.5"},
      {"0.5", "offset 0.5 has no distribution before it"},
      {"exp:1 +", "stray '+'"},
      {"+exp:1", "stray '+'"},
      {"0.9*exp:1 + exp:2", "every term of a mixture needs a weight"},
      {"exp:1 + exp:2", "every term of a mixture needs a weight"},
      {"0*exp:1", "weight 0 must be > 0"},
      {"-1*exp:1", "weight -1 must be > 0"},
      {"x*exp:1", "weight 'x' is not a finite number"},
      {"0.5*", "weight 0.5 has no distribution after '*'"},
      {"0.5*0.5*exp:1", "unknown distribution '0.5*exp'"},
  };
  for (const auto& [spec, want] : cases) {
    std::string error;
    EXPECT_FALSE(DelayDist::parse(spec, &error).has_value()) << spec;
    EXPECT_NE(error.find(want), std::string::npos) << "spec '" << spec << "' gave: " << error;
    EXPECT_EQ(error.rfind("delay spec '" + spec + "': ", 0), 0u) << error;
  }
  std::string many;
  for (size_t i = 0; i <= kMaxDelayComponents; ++i)
    many += (i ? " + " : "") + std::string("1*const:1");
  std::string error;
  EXPECT_FALSE(DelayDist::parse(many, &error).has_value());
  EXPECT_NE(error.find("more than 16 terms"), std::string::npos) << error;
  EXPECT_FALSE(DelayDist::parse("exp:1", nullptr) == std::nullopt);  // a null error is allowed
  EXPECT_FALSE(DelayDist::parse("exp:0", nullptr).has_value());
}

}  // namespace
}  // namespace rkv::sim

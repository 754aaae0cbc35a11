#include "runtime/tls.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "runtime/tls_test_util.h"

namespace rkv {
namespace {

using tls_testing::Pki;

std::shared_ptr<const TlsContext> load_ok(const TlsSettings& s) {
  auto r = TlsContext::load(s);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? r.value() : nullptr;
}

std::string load_error(const TlsSettings& s) {
  auto r = TlsContext::load(s);
  EXPECT_FALSE(r.is_ok());
  return r.is_ok() ? "" : r.status().message();
}

TEST(TlsContext, LoadsAndDescribesTheCertificate) {
  Pki pki;
  pki.issue("server");
  auto ctx = load_ok(pki.settings("server"));
  ASSERT_NE(ctx, nullptr);
  EXPECT_NE(ctx->description().find("CN=server"), std::string::npos) << ctx->description();
  EXPECT_NE(ctx->description().find("serial"), std::string::npos);
}

TEST(TlsContext, ErrorsNameTheFile) {
  Pki pki;
  pki.issue("server");
  pki.issue("other");
  TlsSettings s = pki.settings("server");
  s.cert_file = pki.path("missing.crt");
  EXPECT_NE(load_error(s).find("cert_file " + pki.path("missing.crt") + ": cannot read"),
            std::string::npos);

  s = pki.settings("server");
  s.key_file = pki.path("missing.key");
  EXPECT_NE(load_error(s).find("key_file " + pki.path("missing.key")), std::string::npos);

  s = pki.settings("server");
  s.key_file = pki.path("other.key");
  EXPECT_NE(load_error(s).find("does not match the certificate"), std::string::npos);

  s = pki.settings("server");
  s.cert_file = pki.path("server.key");  // a key is not a certificate
  EXPECT_NE(load_error(s).find("not a usable PEM certificate"), std::string::npos);

  s = pki.settings("server");
  s.protocols = "TLSv1.2 SSLv3";
  EXPECT_NE(load_error(s).find("SSLv3"), std::string::npos);
}

// A server and a client session over a socketpair, driven until both handshakes settle.
struct Pair {
  int fds[2] = {-1, -1};
  std::unique_ptr<TlsSession> server, client;
  Pair(const TlsContext& server_ctx, const TlsContext& client_ctx, TlsAuthClients auth) {
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    server = server_ctx.accept(fds[0], auth);
    client = client_ctx.connect(fds[1]);
  }
  ~Pair() {
    server.reset();
    client.reset();
    ::close(fds[0]);
    ::close(fds[1]);
  }
  // Steps both handshakes; returns the server's final outcome.
  TlsSession::Io handshake() {
    TlsSession::Io s = TlsSession::Io::kWantRead, c = TlsSession::Io::kWantRead;
    for (int i = 0; i < 100; ++i) {
      if (c != TlsSession::Io::kDone && c != TlsSession::Io::kFailed) c = client->handshake();
      if (s != TlsSession::Io::kDone && s != TlsSession::Io::kFailed) s = server->handshake();
      if (s == TlsSession::Io::kFailed ||
          (s == TlsSession::Io::kDone && c == TlsSession::Io::kDone))
        break;
    }
    return s;
  }
};

TEST(TlsSession, ExchangesDataAndKeepsWhatDidNotFit) {
  Pki pki;
  pki.issue("server");
  pki.issue("client");
  auto sctx = load_ok(pki.settings("server"));
  auto cctx = load_ok(pki.settings("client"));
  Pair p(*sctx, *cctx, TlsAuthClients::kYes);
  ASSERT_EQ(p.handshake(), TlsSession::Io::kDone) << p.server->error();
  EXPECT_NE(p.server->describe().find("CN=client"), std::string::npos) << p.server->describe();

  const std::string msg = "*1\r\n$4\r\nPING\r\n";
  auto w = p.client->write(msg.data(), msg.size());
  ASSERT_EQ(w.io, TlsSession::Io::kDone);
  EXPECT_EQ(w.n, msg.size());
  // A read smaller than the record leaves the rest inside the session, where no socket
  // readiness announces it.
  char buf[4];
  auto r = p.server->read(buf, sizeof buf);
  ASSERT_EQ(r.io, TlsSession::Io::kDone);
  EXPECT_EQ(std::string(buf, r.n), msg.substr(0, 4));
  EXPECT_TRUE(p.server->has_pending());
  std::string rest;
  while (p.server->has_pending()) {
    r = p.server->read(buf, sizeof buf);
    ASSERT_EQ(r.io, TlsSession::Io::kDone);
    rest.append(buf, r.n);
  }
  EXPECT_EQ(rest, msg.substr(4));
  EXPECT_EQ(p.server->read(buf, sizeof buf).io, TlsSession::Io::kWantRead);
  p.client->shutdown();
  EXPECT_EQ(p.server->read(buf, sizeof buf).io, TlsSession::Io::kClosed);
}

TEST(TlsSession, RequiredClientCertificateIsEnforced) {
  Pki pki;
  pki.issue("server");
  auto sctx = load_ok(pki.settings("server"));
  // A client presenting a certificate of the CA (the server's own will do).
  auto cctx = load_ok(pki.settings("server"));
  {
    Pair p(*sctx, *cctx, TlsAuthClients::kOptional);
    EXPECT_EQ(p.handshake(), TlsSession::Io::kDone) << p.server->error();
  }
  Pki other;
  other.issue("stranger");
  other.issue("expired", -7200, -3600);
  TlsSettings stranger = other.settings("stranger");
  stranger.ca_cert_file = pki.path("ca.crt");  // trusts the server, is not trusted by it
  auto stranger_ctx = load_ok(stranger);
  {
    Pair p(*sctx, *stranger_ctx, TlsAuthClients::kYes);
    EXPECT_EQ(p.handshake(), TlsSession::Io::kFailed);
    EXPECT_NE(p.server->error().find("certificate refused"), std::string::npos)
        << p.server->error();
  }
  {
    Pair p(*sctx, *stranger_ctx, TlsAuthClients::kNo);  // not asked: accepted
    EXPECT_EQ(p.handshake(), TlsSession::Io::kDone) << p.server->error();
  }
}

TEST(TlsSession, ExpiredClientCertificateIsRefused) {
  Pki pki;
  pki.issue("server");
  pki.issue("expired", -7200, -3600);
  auto sctx = load_ok(pki.settings("server"));
  auto cctx = load_ok(pki.settings("expired"));
  Pair p(*sctx, *cctx, TlsAuthClients::kYes);
  EXPECT_EQ(p.handshake(), TlsSession::Io::kFailed);
  EXPECT_NE(p.server->error().find("expired"), std::string::npos) << p.server->error();
}

TEST(TlsSession, PlainTextIsAFailureNotACrash) {
  Pki pki;
  pki.issue("server");
  auto sctx = load_ok(pki.settings("server"));
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  auto s = sctx->accept(fds[0], TlsAuthClients::kNo);
  const std::string ping = "PING\r\n";
  ASSERT_EQ(::write(fds[1], ping.data(), ping.size()), static_cast<ssize_t>(ping.size()));
  EXPECT_EQ(s->handshake(), TlsSession::Io::kFailed);
  EXPECT_FALSE(s->error().empty());
  s.reset();
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(LogLimiter, AllowsABurstPerWindowAndCountsTheRest) {
  LogLimiter l(2, 1000);
  uint64_t suppressed = 99;
  EXPECT_TRUE(l.allow(0, &suppressed));
  EXPECT_EQ(suppressed, 0u);
  EXPECT_TRUE(l.allow(10, &suppressed));
  EXPECT_FALSE(l.allow(20, &suppressed));
  EXPECT_FALSE(l.allow(999, &suppressed));
  EXPECT_TRUE(l.allow(1000, &suppressed));
  EXPECT_EQ(suppressed, 2u);
  EXPECT_TRUE(l.allow(1001, &suppressed));
  EXPECT_EQ(suppressed, 0u);
}

}  // namespace
}  // namespace rkv

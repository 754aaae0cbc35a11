// Test helper: a throwaway PKI (a CA and certificates it signs, EC P-256) in a temporary
// directory, removed with the object. Tests only.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "core/config.h"

namespace rkv::tls_testing {

namespace fs = std::filesystem;

class Pki {
 public:
  Pki() {
    dir_ = fs::temp_directory_path() /
           ("rkv-tls-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::create_directories(dir_);
    ca_key_ = EVP_EC_gen("P-256");
    ca_ = make_cert("test-ca", ca_key_, nullptr, nullptr, 0, 3600);
    write_cert(ca_, "ca.crt");
  }
  ~Pki() {
    X509_free(ca_);
    EVP_PKEY_free(ca_key_);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Writes name.crt and name.key, signed by the CA; valid from `from_s` to `to_s` from now.
  void issue(const std::string& name, long from_s = 0, long to_s = 3600) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = make_cert(name, key, ca_, ca_key_, from_s, to_s);
    write_cert(cert, name + ".crt");
    write_key(key, name + ".key");
    X509_free(cert);
    EVP_PKEY_free(key);
  }
  std::string path(const std::string& file) const { return (dir_ / file).string(); }

  TlsSettings settings(const std::string& name) const {
    TlsSettings s;
    s.cert_file = path(name + ".crt");
    s.key_file = path(name + ".key");
    s.ca_cert_file = path("ca.crt");
    return s;
  }

 private:
  static X509* make_cert(const std::string& cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key,
                         long from_s, long to_s) {
    X509* c = X509_new();
    // A self-signed version 1 certificate counts as a CA without extensions.
    X509_set_version(c, issuer ? 2 : 0);
    ASN1_INTEGER_set(X509_get_serialNumber(c), ++serial_);
    X509_gmtime_adj(X509_getm_notBefore(c), from_s);
    X509_gmtime_adj(X509_getm_notAfter(c), to_s);
    X509_set_pubkey(c, key);
    X509_NAME* name = X509_get_subject_name(c);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name);
    X509_sign(c, issuer_key ? issuer_key : key, EVP_sha256());
    return c;
  }
  void write_cert(X509* c, const std::string& file) const {
    std::FILE* f = std::fopen(path(file).c_str(), "wb");
    PEM_write_X509(f, c);
    std::fclose(f);
  }
  void write_key(EVP_PKEY* k, const std::string& file) const {
    std::FILE* f = std::fopen(path(file).c_str(), "wb");
    PEM_write_PrivateKey(f, k, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
  }

  static inline int counter_ = 0;
  static inline long serial_ = 100;
  fs::path dir_;
  EVP_PKEY* ca_key_ = nullptr;
  X509* ca_ = nullptr;
};

}  // namespace rkv::tls_testing

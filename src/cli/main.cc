// The `replikv` command.
#include <CLI/CLI.hpp>
#include <iostream>

#include "check/check_cli.h"
#include "cli/cluster.h"
#include "cli/cluster_control.h"
#include "cli/lab.h"
#include "cli/serve.h"
#include "sim/sim_cli.h"

int main(int argc, char** argv) {
  CLI::App app{"replikv: a replicated key-value store speaking the Redis protocol"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "replikv 0.1.0");

  rkv::ServeOptions serve;
  auto* s = app.add_subcommand("serve", "Run a node (embedded defaults when no --config)");
  s->add_option("-c,--config", serve.config_path, "TOML config file")->check(CLI::ExistingFile);
  s->add_option("-p,--port", serve.port, "client (RESP) port");
  s->add_option("--admin-port", serve.admin_port, "admin HTTP port (0 disables)");
  s->add_option("-d,--data-dir", serve.data_dir, "data directory");
  s->add_option("--fsync", serve.fsync, "always | batch | never");
  s->add_option("--bind", serve.bind, "address to listen on");
  s->add_option("--node-id", serve.node_id, "this node's id");
  s->add_option("--log-level", serve.log_level, "trace|debug|info|warn|error|critical|off");
  s->add_option("--tls-port", serve.tls_port, "client TLS port (0: none)");
  s->add_option("--tls-cert-file", serve.tls_cert_file, "TLS certificate (PEM chain)");
  s->add_option("--tls-key-file", serve.tls_key_file, "TLS private key (PEM)");
  s->add_option("--tls-ca-cert-file", serve.tls_ca_cert_file, "CA certificates (PEM)");
  s->add_option("--tls-auth-clients", serve.tls_auth_clients, "yes | no | optional")
      ->check(CLI::IsMember({"yes", "no", "optional"}));
  // Hidden: only `replikv lab --bug` starts nodes with it (serve refuses any other parent).
  s->add_option("--lab-unsafe-bug", serve.lab_unsafe_bug)->group("");
  // Hidden: only `replikv lab --faults clock|slow-disk` starts nodes with it (same refusal).
  s->add_option("--lab-control-file", serve.lab_control_file)->group("");

  auto check = rkv::check::add_check_command(app);

  rkv::ClusterOptions cl;
  auto* cluster = app.add_subcommand("cluster", "Local clusters");
  cluster->require_subcommand(1);
  auto* up = cluster->add_subcommand("up", "Run an N-node cluster on loopback until Ctrl-C");
  up->add_option("-n,--nodes", cl.nodes, "number of nodes")->check(CLI::Range(1, 9));
  up->add_option("--base-port", cl.base_port,
                 "client port of n1 (admin = base+1000+i, peer = base+10000+i)");
  up->add_option("-d,--data-dir", cl.data_dir, "directory for node data and configs");
  up->add_option("--fsync", cl.fsync, "always | batch | never")
      ->check(CLI::IsMember({"always", "batch", "never"}));
  auto control = rkv::add_cluster_control_commands(*cluster);

  int st_nodes = 3;
  uint16_t st_base = 7379;
  auto* status = app.add_subcommand("status", "Print each node's role, term, indexes and lag");
  status->add_option("-n,--nodes", st_nodes, "number of nodes");
  status->add_option("--base-port", st_base, "client port of n1");

  auto sim = rkv::sim::add_sim_command(app);
  auto lab = rkv::add_lab_command(app);

  CLI11_PARSE(app, argc, argv);

  if (sim->selected()) return sim->run(std::cout);
  if (lab->selected()) return lab->run("/proc/self/exe");

  if (*up) return rkv::run_cluster_up(cl, "/proc/self/exe");
  if (control->selected()) return control->run();
  if (*status) return rkv::run_status(st_nodes, st_base);

  if (*s) return rkv::run_serve(serve);
  if (check->selected()) return check->run(std::cout, std::cerr);
  return 2;
}

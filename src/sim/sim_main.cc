// A stand-alone `sim` binary (rkv_sim_main sim --seed 7 ...) for working on the simulator
// without building the whole server; `replikv sim` is the same command.
#include <CLI/CLI.hpp>
#include <iostream>

#include "sim/sim_cli.h"

int main(int argc, char** argv) {
  CLI::App app{"replikv simulator"};
  app.require_subcommand(1);
  auto sim = rkv::sim::add_sim_command(app);
  CLI11_PARSE(app, argc, argv);
  if (sim->selected()) return sim->run(std::cout);
  return 2;
}

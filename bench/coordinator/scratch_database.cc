#include "bench/coordinator/scratch_database.h"

#include <libpq-fe.h>

#include <fstream>
#include <iostream>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "bench/coordinator/cpu_clock.h"

namespace moe4::bench {
namespace {

// A conninfo value, in single quotes with \ and ' escaped (libpq's rules)
// only where needed: the string is also passed through the coordinator's
// command line, where plain words are the least surprising.
std::string QuoteConninfoValue(const std::string& value) {
  if (!value.empty() && value.find_first_of(" \t\n'\\") == std::string::npos) return value;
  std::string out = "'";
  for (char c : value) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

}  // namespace

absl::StatusOr<std::string> ConninfoWithDatabase(const std::string& conninfo, const std::string& dbname) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    std::string why = error != nullptr ? error : "out of memory";
    PQfreemem(error);
    return absl::InvalidArgumentError(absl::StrCat("PostgreSQL URL does not parse: ", why));
  }
  std::string out;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || std::string(o->keyword) == "dbname") continue;
    absl::StrAppend(&out, o->keyword, "=", QuoteConninfoValue(o->val), " ");
  }
  PQconninfoFree(options);
  return absl::StrCat(out, "dbname=", QuoteConninfoValue(dbname));
}

absl::StatusOr<std::unique_ptr<ScratchDatabase>> ScratchDatabase::Create(const std::string& admin_url,
                                                                         const std::string& name) {
  absl::StatusOr<std::string> url = ConninfoWithDatabase(admin_url, name);
  if (!url.ok()) return url.status();
  try {
    pqxx::connection conn(admin_url);
    pqxx::nontransaction txn(conn);
    txn.exec("DROP DATABASE IF EXISTS " + txn.quote_name(name) + " WITH (FORCE)");
    txn.exec("CREATE DATABASE " + txn.quote_name(name));
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot create database ", name, " (needs a superuser or CREATEDB URL): ", e.what()));
  }
  return std::unique_ptr<ScratchDatabase>(new ScratchDatabase(admin_url, name, *url));
}

ScratchDatabase::~ScratchDatabase() {
  if (absl::Status s = Drop(); !s.ok()) std::cerr << "coordinator_load_bench: " << s.message() << "\n";
}

absl::Status ScratchDatabase::Drop() {
  if (dropped_) return absl::OkStatus();
  dropped_ = true;
  try {
    pqxx::connection conn(admin_url_);
    pqxx::nontransaction txn(conn);
    txn.exec("DROP DATABASE IF EXISTS " + txn.quote_name(name_) + " WITH (FORCE)");
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot drop database ", name_, ": ", e.what()));
  }
  return absl::OkStatus();
}

absl::Status Analyze(const std::string& conninfo) {
  try {
    pqxx::connection conn(conninfo);
    pqxx::nontransaction txn(conn);
    txn.exec("ANALYZE");
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("ANALYZE: ", e.what()));
  }
  return absl::OkStatus();
}

std::optional<pid_t> LocalServerPid(const std::string& conninfo) {
  try {
    pqxx::connection conn(conninfo);
    pqxx::nontransaction txn(conn);
    const auto backend = static_cast<pid_t>(txn.exec1("SELECT pg_backend_pid()")[0].as<int>());
    // A remote server's backend PID may name an unrelated local process:
    // accept it only when it is a postgres process.
    std::ifstream comm("/proc/" + std::to_string(backend) + "/comm");
    std::string name;
    if (!std::getline(comm, name) || name.rfind("postgres", 0) != 0) return std::nullopt;
    return ParentPid(backend);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace moe4::bench

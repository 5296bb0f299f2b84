// libFuzzer target: any bytes given to the pickle reader and the snapshot
// importer must parse or fail with a message, within bounded time and memory,
// and never execute anything. Built by the `fuzz` preset (clang); seeds are
// tests/data/snapshots/*.pickle.
#include "import/pickle_reader.h"
#include "import/snapshot_import.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace {

using vramscope::import::PickleValue;

// Touches every accessor on a bounded walk (a pickle may hold cycles).
void walk(PickleValue v, int depth, size_t& budget) {
    if (!v.valid() || depth > 8 || budget == 0) return;
    --budget;
    int64_t i;
    uint64_t u;
    double d;
    bool b;
    (void)v.toInt64(&i);
    (void)v.toUInt64(&u);
    (void)v.toDouble(&d);
    (void)v.toBool(&b);
    (void)v.text().size();
    const size_t n = v.size();
    for (size_t k = 0; k < n && budget; ++k) {
        if (v.isDict()) {
            walk(v.keyAt(k), depth + 1, budget);
            walk(v.valueAt(k), depth + 1, budget);
            (void)v.get(v.keyAt(k).text());
        } else {
            walk(v.at(k), depth + 1, budget);
        }
    }
    (void)v.get("segments");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace vramscope::import;
    PickleDocument doc;
    std::string error;
    if (parsePickle(data, size, doc, &error)) {
        size_t budget = 4096;
        walk(doc.root(), 0, budget);
    } else if (error.empty()) {
        __builtin_trap();  // every failure must say why
    }
    ImportStats stats;
    if (!importSnapshotBytes(data, size, "fuzz.pickle", "/dev/null", &stats, &error) && error.empty())
        __builtin_trap();
    return 0;
}

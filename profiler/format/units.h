// Human-readable bytes and durations, shared by the CLI and the app so both
// print the same numbers the same way.
#pragma once

#include <cmath>
#include <cstdio>
#include <string>

namespace vramscope {

// 1536 → "1.50 KiB"; binary units as nvidia-smi and PyTorch print them.
inline std::string formatBytes(double bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};  // 2^64 B = 16 EiB
    int u = 0;
    double v = std::fabs(bytes);
    while (v >= 1024 && u < 6) { v /= 1024; bytes /= 1024; ++u; }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : (v >= 100 ? "%.0f %s" : (v >= 10 ? "%.1f %s" : "%.2f %s")), bytes, units[u]);
    return buf;
}

// 1234567 ns → "1.23 ms". With a step (axis labels), enough digits to tell
// neighbouring labels apart.
inline std::string formatDuration(double ns, double stepNs = 0) {
    struct Unit { double ns; const char* name; };
    const Unit units[] = {{1e9, "s"}, {1e6, "ms"}, {1e3, "µs"}, {1, "ns"}};
    double scale = std::fabs(stepNs > 0 ? stepNs : ns);
    const Unit* u = &units[3];
    for (const auto& candidate : units)
        if (scale >= candidate.ns) { u = &candidate; break; }
    double v = ns / u->ns;
    int digits = 2;
    if (stepNs > 0) {
        double step = stepNs / u->ns;
        digits = step >= 1 ? 0 : (step >= 0.1 ? 1 : 2);
    } else {
        double a = std::fabs(v);
        digits = a >= 100 ? 0 : (a >= 10 ? 1 : 2);
    }
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.*f %s", digits, v, u->name);
    return buf;
}

}  // namespace vramscope

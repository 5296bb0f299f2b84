#include "timeline_style.h"

namespace vramscope::app {


ImU32 categoryColor(analysis::Category c) {
    switch (c) {
    case analysis::Category::Weights: return rgba(66, 133, 244);
    case analysis::Category::OptimizerState: return rgba(0, 172, 193);
    case analysis::Category::Gradients: return rgba(255, 167, 38);
    case analysis::Category::Activations: return rgba(171, 71, 188);
    case analysis::Category::Temporaries: return rgba(236, 64, 122);
    case analysis::Category::Leaked: return rgba(229, 57, 53);
    case analysis::Category::Other: return rgba(120, 144, 156);
    }
    return rgba(120, 144, 156);
}

ImU32 phaseColor(PhaseSpanKind k) {
    switch (k) {
    case PhaseSpanKind::Forward: return rgba(66, 133, 244);
    case PhaseSpanKind::Backward: return rgba(244, 160, 0);
    case PhaseSpanKind::Optimizer: return rgba(52, 168, 83);
    case PhaseSpanKind::Recompute: return rgba(171, 71, 188);
    case PhaseSpanKind::Step: return rgba(120, 120, 120);
    }
    return rgba(120, 120, 120);
}

const char* phaseName(PhaseSpanKind k) {
    switch (k) {
    case PhaseSpanKind::Forward: return "forward";
    case PhaseSpanKind::Backward: return "backward";
    case PhaseSpanKind::Optimizer: return "optimizer";
    case PhaseSpanKind::Recompute: return "recompute";
    case PhaseSpanKind::Step: return "step";
    }
    return "";
}

const char* phaseName(const TraceDocument& doc, PhaseSpanKind k) {
    switch (k) {
    case PhaseSpanKind::Forward: return analysis::phaseLabel(doc.summary.iterations, analysis::PhaseName::Forward);
    case PhaseSpanKind::Backward: return analysis::phaseLabel(doc.summary.iterations, analysis::PhaseName::Backward);
    case PhaseSpanKind::Optimizer: return analysis::phaseLabel(doc.summary.iterations, analysis::PhaseName::Optimizer);
    default: return phaseName(k);
    }
}

// Kernels coloured by a stable hash of their name: the same kernel has the
// same colour in both traces of a comparison.
ImU32 nameColor(uint32_t hash) {
    static const ImU32 palette[] = {rgba(0x4e, 0x79, 0xa7), rgba(0xf2, 0x8e, 0x2b), rgba(0xe1, 0x57, 0x59),
                                    rgba(0x76, 0xb7, 0xb2), rgba(0x59, 0xa1, 0x4f), rgba(0xed, 0xc9, 0x48),
                                    rgba(0xb0, 0x7a, 0xa1), rgba(0xff, 0x9d, 0xa7), rgba(0x9c, 0x75, 0x5f)};
    return palette[hash % (sizeof palette / sizeof palette[0])];
}

// Kernels are coloured by what limits them (analysis::kernelBoundness).
ImU32 boundColor(const TraceDocument& doc, uint32_t nameId) {
    auto it = doc.summary.kernelBounds.byName.find(nameId);
    return boundColor(it == doc.summary.kernelBounds.byName.end() ? analysis::Bound::Unknown : it->second);
}

ImU32 boundColor(analysis::Bound bound) {
    switch (bound) {
    case analysis::Bound::Compute: return rgba(102, 187, 106);    // green: compute-bound
    case analysis::Bound::Bandwidth: return rgba(255, 112, 67);   // orange: bandwidth-bound
    case analysis::Bound::Latency: return rgba(149, 117, 205);    // violet: neither (latency/launch)
    default: return rgba(150, 150, 150);
    }
}

}  // namespace vramscope::app

#include "ptrace_refusal.h"

#include "process_inspect.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

namespace vramscope::attach {

namespace {

constexpr int kCapSysPtrace = 19;  // linux/capability.h

bool exists(const char* path) {
    struct stat st{};
    return ::stat(path, &st) == 0;
}

std::string containerHint() {
    if (std::getenv("KUBERNETES_SERVICE_HOST") || exists("/var/run/secrets/kubernetes.io/serviceaccount"))
        return "Kubernetes";
    if (exists("/.dockerenv")) return "Docker";
    if (exists("/run/.containerenv")) return "Podman";
    std::string cgroup;
    if (readSmallFile("/proc/1/cgroup", &cgroup) || readSmallFile("/proc/self/cgroup", &cgroup)) {
        if (cgroup.find("kubepods") != std::string::npos) return "Kubernetes";
        if (cgroup.find("docker") != std::string::npos) return "Docker";
        if (cgroup.find("libpod") != std::string::npos) return "Podman";
        if (cgroup.find("lxc") != std::string::npos) return "LXC";
        if (cgroup.find("containerd") != std::string::npos || cgroup.find("crio") != std::string::npos)
            return "a container";
    }
    return {};
}

std::string target(int pid, std::string_view name) {
    std::string s = "process " + std::to_string(pid);
    if (!name.empty()) s += " (" + std::string(name) + ")";
    return s;
}

std::string containerAdvice(const std::string& container) {
    if (container == "Kubernetes")
        return "add SYS_PTRACE to the pod's securityContext.capabilities and use a seccomp profile that allows ptrace "
               "(seccompProfile: Unconfined or one that lists ptrace)";
    return "restart the container with `--cap-add=SYS_PTRACE` and a seccomp profile that allows ptrace "
           "(e.g. `--security-opt seccomp=unconfined`)";
}

}  // namespace

PtraceEnvironment readPtraceEnvironment(int pid) {
    PtraceEnvironment env;
    std::string text;
    if (readSmallFile("/proc/sys/kernel/yama/ptrace_scope", &text)) env.yamaScope = std::atoi(text.c_str());
    env.root = ::geteuid() == 0;
    env.ourUid = ::getuid();
    if (readSmallFile("/proc/self/status", &text)) {
        std::string capEff(statusField(text, "CapEff"));
        env.capSysPtrace = (std::strtoull(capEff.c_str(), nullptr, 16) >> kCapSysPtrace) & 1;
        env.seccompMode = std::atoi(std::string(statusField(text, "Seccomp")).c_str());
    }
    env.container = containerHint();
    const std::string dir = "/proc/" + std::to_string(pid);
    struct stat st{};
    if (pid > 0 && ::stat((dir + "/status").c_str(), &st) == 0 && readSmallFile(dir + "/status", &text)) {
        env.targetKnown = true;
        env.targetUid = uint32_t(std::strtoul(std::string(statusField(text, "Uid")).c_str(), nullptr, 10));
        env.targetDumpable = !(st.st_uid == 0 && env.targetUid != 0);
    }
    return env;
}

std::string explainPtraceRefusal(int err, const PtraceEnvironment& env, int pid, std::string_view name) {
    const std::string who = target(pid, name);
    if (err == ESRCH) return who + " exited before vramscope could attach to it.";
    if (err != EPERM && err != EACCES)
        return "cannot attach to " + who + ": ptrace failed (" + std::strerror(err) + ").";
    const bool privileged = env.capSysPtrace;  // root normally has it; root in a container may not
    const std::string cannot = "cannot attach to " + who + ": ";

    // Yama 3 stops everyone, root included, until reboot (Documentation/admin-guide/LSM/Yama.rst).
    if (env.yamaScope >= 3)
        return cannot + "attaching debuggers is disabled on this machine until the next reboot "
                        "(/proc/sys/kernel/yama/ptrace_scope is 3); start the job under `vramscope record` instead.";
    // ptrace_may_access(): a non-dumpable target needs CAP_SYS_PTRACE, even for its owner.
    if (!env.targetDumpable && !privileged)
        return cannot + "it made itself non-dumpable (PR_SET_DUMPABLE 0, as setuid programs and some sandboxes do), "
                        "so only root can attach to it; run vramscope attach as root.";
    if (env.targetKnown && env.targetUid != env.ourUid && !privileged)
        return cannot + "it belongs to uid " + std::to_string(env.targetUid) + " and vramscope runs as uid " +
               std::to_string(env.ourUid) + "; run vramscope attach as that user or as root.";
    if (env.yamaScope == 2 && !privileged)
        return cannot + "only administrators may attach debuggers on this machine "
                        "(/proc/sys/kernel/yama/ptrace_scope is 2); run vramscope attach as root (or with CAP_SYS_PTRACE).";
    if (env.yamaScope == 1 && !privileged)
        return cannot + "this machine lets a process trace only its own descendants "
                        "(/proc/sys/kernel/yama/ptrace_scope is 1); run vramscope attach as root, or allow it until the "
                        "next reboot with `echo 0 | sudo tee /proc/sys/kernel/yama/ptrace_scope`" +
               std::string(env.container.empty() ? "." : " on the host (the setting is not per container).");
    if (!env.container.empty() && (!privileged || env.seccompMode == 2))
        return cannot + "vramscope runs inside " + (env.container == "a container" ? "" : "a ") + env.container +
               (env.container == "a container" ? "" : " container") +
               (env.seccompMode == 2 ? " whose seccomp filter or missing CAP_SYS_PTRACE forbids ptrace; "
                                     : " without CAP_SYS_PTRACE; ") +
               containerAdvice(env.container) + ".";
    if (env.seccompMode == 2)
        return cannot + "vramscope runs under a seccomp filter that forbids ptrace; run it outside that sandbox.";
    if (env.root)
        return cannot + "the kernel refused even though vramscope runs as root; a security module (SELinux, "
                        "AppArmor) or a sandbox (gVisor) forbids attaching debuggers here.";
    return cannot + "the kernel refused (" + std::strerror(err) + "); some sandboxes (gVisor) and security modules "
                    "allow attaching debuggers only to root: try running vramscope attach as root.";
}

}  // namespace vramscope::attach

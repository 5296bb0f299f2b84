#include "elf_symbols.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace vramscope::attach {

namespace {

// Caps on what one lookup reads; glibc 2.36's libc.so.6 has 3,000 dynamic
// symbols (72 KiB of .dynsym), libcuda ~1,000.
constexpr uint64_t kMaxTableBytes = 64u << 20;
constexpr unsigned kMaxVerdefs = 65536;

// Bytes of an ELF file, from memory or from a descriptor, read only through
// bounds-checked copies.
struct Source {
    const uint8_t* mem = nullptr;
    int fd = -1;
    uint64_t size = 0;

    bool read(uint64_t offset, uint64_t length, void* dst) const {
        if (offset > size || length > size - offset) return false;
        if (mem) {
            std::memcpy(dst, mem + offset, length);
            return true;
        }
        auto* out = static_cast<uint8_t*>(dst);
        while (length > 0) {
            ssize_t n = ::pread(fd, out, length, off_t(offset));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            out += n;
            offset += uint64_t(n);
            length -= uint64_t(n);
        }
        return true;
    }
    bool readTable(uint64_t offset, uint64_t length, std::vector<uint8_t>* out) const {
        if (length > kMaxTableBytes) return false;
        out->resize(length);
        return read(offset, length, out->data());
    }
};

bool fail(std::string* error, const std::string& what) {
    if (error) *error = what;
    return false;
}

bool readHeader(const Source& src, Elf64_Ehdr* eh, std::string* error) {
    if (!src.read(0, sizeof *eh, eh)) return fail(error, "too short to be an ELF file");
    if (std::memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0) return fail(error, "not an ELF file");
    if (eh->e_ident[EI_CLASS] != ELFCLASS64) return fail(error, "not a 64-bit ELF file");
    if (eh->e_ident[EI_DATA] != ELFDATA2LSB) return fail(error, "not a little-endian ELF file");
    return true;
}

// The NUL-terminated string at offset in a string table, or empty.
std::string_view stringAt(const std::vector<uint8_t>& table, uint64_t offset) {
    if (offset >= table.size()) return {};
    const char* s = reinterpret_cast<const char*>(table.data() + offset);
    const void* nul = std::memchr(s, 0, table.size() - offset);
    return nul ? std::string_view(s, size_t(static_cast<const char*>(nul) - s)) : std::string_view{};
}

// The name of version index `index` from .gnu.version_d (vd_ndx → first Verdaux).
std::string versionName(const Source& src, const Elf64_Shdr* verdef, const std::vector<uint8_t>& strtab,
                        unsigned index) {
    if (!verdef) return {};
    uint64_t off = verdef->sh_offset;
    const uint64_t end = verdef->sh_offset + verdef->sh_size;
    for (unsigned i = 0; i < kMaxVerdefs && off < end; ++i) {
        Elf64_Verdef vd;
        if (end - off < sizeof vd || !src.read(off, sizeof vd, &vd)) return {};
        if (vd.vd_ndx == index) {
            Elf64_Verdaux aux;
            if (vd.vd_aux > end - off || !src.read(off + vd.vd_aux, sizeof aux, &aux)) return {};
            return std::string(stringAt(strtab, aux.vda_name));
        }
        if (vd.vd_next == 0) break;
        off += vd.vd_next;
    }
    return {};
}

bool lookup(const Source& src, std::string_view name, ElfSymbol* out, std::string* error) {
    Elf64_Ehdr eh;
    if (!readHeader(src, &eh, error)) return false;
    if (eh.e_shnum == 0 || eh.e_shentsize != sizeof(Elf64_Shdr))
        return fail(error, "has no usable section headers");
    std::vector<Elf64_Shdr> sh(eh.e_shnum);
    if (!src.read(eh.e_shoff, uint64_t(eh.e_shnum) * sizeof(Elf64_Shdr), sh.data()))
        return fail(error, "its section headers lie outside the file (truncated?)");

    const Elf64_Shdr *dynsym = nullptr, *versym = nullptr, *verdef = nullptr;
    for (const Elf64_Shdr& s : sh) {
        if (s.sh_type == SHT_DYNSYM && !dynsym) dynsym = &s;
        else if (s.sh_type == SHT_GNU_versym && !versym) versym = &s;
        else if (s.sh_type == SHT_GNU_verdef && !verdef) verdef = &s;
    }
    if (!dynsym) return fail(error, "has no dynamic symbol table");
    if (dynsym->sh_entsize != sizeof(Elf64_Sym) || dynsym->sh_link >= sh.size())
        return fail(error, "has a malformed dynamic symbol table");
    const Elf64_Shdr& strSec = sh[dynsym->sh_link];
    std::vector<uint8_t> syms, strs, vers, verStrs;
    if (!src.readTable(dynsym->sh_offset, dynsym->sh_size, &syms) ||
        !src.readTable(strSec.sh_offset, strSec.sh_size, &strs))
        return fail(error, "its dynamic symbols lie outside the file (truncated?)");
    const uint64_t count = dynsym->sh_size / sizeof(Elf64_Sym);
    // .gnu.version has one Elf64_Versym per dynamic symbol; ignore a table that disagrees.
    if (versym && (versym->sh_size != count * sizeof(Elf64_Versym) || !src.readTable(versym->sh_offset, versym->sh_size, &vers)))
        vers.clear();
    if (verdef && (verdef->sh_link >= sh.size() ||
                   !src.readTable(sh[verdef->sh_link].sh_offset, sh[verdef->sh_link].sh_size, &verStrs) ||
                   verdef->sh_offset > src.size || verdef->sh_size > src.size - verdef->sh_offset))
        verdef = nullptr;

    bool found = false;
    for (uint64_t i = 1; i < count; ++i) {
        Elf64_Sym s;
        std::memcpy(&s, syms.data() + i * sizeof s, sizeof s);
        if (s.st_shndx == SHN_UNDEF || stringAt(strs, s.st_name) != name) continue;
        const unsigned bind = ELF64_ST_BIND(s.st_info);
        if (bind != STB_GLOBAL && bind != STB_WEAK && bind != STB_GNU_UNIQUE) continue;
        Elf64_Versym v = VER_NDX_GLOBAL;
        if (!vers.empty()) std::memcpy(&v, vers.data() + i * sizeof v, sizeof v);
        const unsigned index = v & 0x7fff;
        const bool hidden = (v & 0x8000) != 0;
        if (index == VER_NDX_LOCAL) continue;
        // A default definition beats a hidden one; the first default one wins.
        if (found && (hidden || !out->hiddenVersion)) continue;
        out->value = s.st_value;
        out->size = s.st_size;
        out->type = ELF64_ST_TYPE(s.st_info);
        out->hiddenVersion = hidden;
        out->version = index > VER_NDX_GLOBAL ? versionName(src, verdef, verStrs, index) : std::string();
        found = true;
    }
    if (!found) return fail(error, "does not define " + std::string(name));
    if (out->type == STT_GNU_IFUNC)
        return fail(error, "defines " + std::string(name) + " as an indirect function (IFUNC), which cannot be called directly");
    return true;
}

bool firstLoad(const Source& src, uint64_t* vaddr, std::string* error) {
    Elf64_Ehdr eh;
    if (!readHeader(src, &eh, error)) return false;
    if (eh.e_phnum == 0 || eh.e_phentsize != sizeof(Elf64_Phdr)) return fail(error, "has no program headers");
    for (unsigned i = 0; i < eh.e_phnum; ++i) {
        Elf64_Phdr ph;
        if (!src.read(eh.e_phoff + uint64_t(i) * sizeof ph, sizeof ph, &ph))
            return fail(error, "its program headers lie outside the file (truncated?)");
        // The segment that covers file offset 0 is the one mmap'd at the mapping with offset 0.
        if (ph.p_type == PT_LOAD && ph.p_offset < 4096) {
            *vaddr = ph.p_vaddr & ~uint64_t(4095);
            return true;
        }
    }
    return fail(error, "has no loadable segment at file offset 0");
}

struct OpenedFile {
    int fd = -1;
    std::string path;
    ~OpenedFile() {
        if (fd >= 0) ::close(fd);
    }
};

// Opens the file behind `library` as process pid sees it; prefers a candidate
// whose inode is the one in the maps line (the same file, not a namesake).
bool openAsTargetSees(int pid, const Mapping& library, OpenedFile* file, std::string* error) {
    const std::string proc = "/proc/" + std::to_string(pid);
    std::vector<std::string> candidates;
    static constexpr std::string_view kDeleted = " (deleted)";
    std::string path = library.path;
    if (path.size() > kDeleted.size() && path.compare(path.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0) {
        char range[64];
        std::snprintf(range, sizeof range, "/map_files/%llx-%llx", (unsigned long long)library.start,
                      (unsigned long long)library.end);
        candidates.push_back(proc + range);
        path.resize(path.size() - kDeleted.size());
    }
    candidates.push_back(proc + "/root" + path);
    candidates.push_back(path);
    for (const std::string& c : candidates) {
        int fd = ::open(c.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        struct stat st{};
        const bool sameInode = ::fstat(fd, &st) == 0 && (library.inode == 0 || st.st_ino == library.inode);
        if (file->fd < 0 || sameInode) {
            if (file->fd >= 0) ::close(file->fd);
            file->fd = fd;
            file->path = c;
        } else {
            ::close(fd);
        }
        if (sameInode) return true;
    }
    if (file->fd >= 0) return true;  // overlay filesystems may report another inode; the name is the best we have
    return fail(error, "cannot open " + library.path + " of process " + std::to_string(pid) + ": " + std::strerror(errno));
}

}  // namespace

bool findDynamicSymbolInMemory(const uint8_t* data, size_t size, std::string_view name, ElfSymbol* out,
                               std::string* error) {
    Source src;
    src.mem = data;
    src.size = size;
    *out = ElfSymbol{};
    return lookup(src, name, out, error);
}

bool findDynamicSymbol(const std::string& filePath, std::string_view name, ElfSymbol* out, std::string* error) {
    OpenedFile f;
    f.fd = ::open(filePath.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st{};
    if (f.fd < 0 || ::fstat(f.fd, &st) != 0) return fail(error, filePath + ": " + std::strerror(errno));
    Source src;
    src.fd = f.fd;
    src.size = uint64_t(st.st_size);
    *out = ElfSymbol{};
    if (!lookup(src, name, out, error)) {
        if (error) *error = filePath + ": " + *error;
        return false;
    }
    return true;
}

bool firstLoadAddress(const uint8_t* data, size_t size, uint64_t* vaddr, std::string* error) {
    Source src;
    src.mem = data;
    src.size = size;
    return firstLoad(src, vaddr, error);
}

bool symbolAddress(const ProcessFacts& facts, const Mapping& library, std::string_view name, uint64_t* address,
                   std::string* error, ElfSymbol* info) {
    OpenedFile f;
    if (!openAsTargetSees(facts.pid, library, &f, error)) return false;
    struct stat st{};
    if (::fstat(f.fd, &st) != 0) return fail(error, f.path + ": " + std::strerror(errno));
    Source src;
    src.fd = f.fd;
    src.size = uint64_t(st.st_size);
    ElfSymbol sym;
    uint64_t loadVaddr = 0;
    std::string why;
    if (!lookup(src, name, &sym, &why) || !firstLoad(src, &loadVaddr, &why)) return fail(error, library.path + " " + why);
    if (library.start < loadVaddr) return fail(error, library.path + " is mapped below its own load address");
    *address = library.start - loadVaddr + sym.value;
    if (sym.type == STT_FUNC) {
        const Mapping* m = mappingAt(facts, *address);
        if (!m || m->inode != library.inode || m->perms.size() < 3 || m->perms[2] != 'x')
            return fail(error, std::string(name) + " of " + library.path + " does not land in its executable mapping in process " +
                                   std::to_string(facts.pid) + " (the file on disk differs from the one it mapped?)");
    }
    if (info) *info = std::move(sym);
    return true;
}

}  // namespace vramscope::attach

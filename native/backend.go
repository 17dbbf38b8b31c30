//go:build llamacpp

package native

// #cgo linux LDFLAGS: -ldl
// #include <stdlib.h>
// #include <dlfcn.h>
// #include "ggml.h"
// #include "ggml-backend.h"
// #include "llama.h"
//
// extern void vlmcmpLog(int level, char *text, void *user_data);
//
// static struct ggml_backend_feature * vlmcmp_features(ggml_backend_reg_t reg) {
//     ggml_backend_get_features_t fn = (ggml_backend_get_features_t) ggml_backend_reg_get_proc_address(reg, "ggml_backend_get_features");
//     return fn ? fn(reg) : NULL;
// }
//
// // A backend library links its own libggml-base.so, with its own log
// // callback: point that one at ours too.
// typedef void (*vlmcmp_log_set_fn)(ggml_log_callback, void *);
// static int vlmcmp_route_lib_logs(const char *base) {
//     void *h = dlopen(base, RTLD_LAZY | RTLD_NOLOAD);
//     if (!h) return 0;
//     vlmcmp_log_set_fn fn = (vlmcmp_log_set_fn) dlsym(h, "ggml_log_set");
//     int ok = fn != NULL && fn != (vlmcmp_log_set_fn) ggml_log_set;
//     if (ok) fn((ggml_log_callback) vlmcmpLog, NULL);
//     dlclose(h);
//     return ok;
// }
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"unsafe"
)

// backendState records what Init did, for the whole process.
var backendState struct {
	mu       sync.Mutex
	inited   bool            // llama_backend_init called
	searched map[string]bool // folders already searched
	names    map[string]bool // library file names already loaded
	loads    []BackendLoad   // every load attempt, in order
}

// backendLib matches the backend libraries we load: libggml-<name>.so, not
// libggml-base (a dependency, not a backend) nor CPU variants (the CPU
// backend is linked in).
var backendLib = regexp.MustCompile(`^libggml-([a-z0-9_]+)\.so$`)

// Init loads llama.cpp's backends; see the stub's documentation.
func Init(opts InitOptions) ([]BackendLoad, error) {
	st := &backendState
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.inited {
		C.llama_backend_init()
		st.inited = true
		st.searched = map[string]bool{}
		st.names = map[string]bool{}
	}
	var dirs []string
	if !opts.NoExecutableDir {
		if exe, err := os.Executable(); err == nil {
			if r, err := filepath.EvalSymlinks(exe); err == nil {
				exe = r
			}
			dirs = append(dirs, filepath.Dir(exe))
		}
	}
	dirs = append(dirs, filepath.SplitList(os.Getenv("VLMCMP_BACKEND_PATH"))...)
	dirs = append(dirs, opts.BackendPaths...)
	for _, d := range dirs {
		if d == "" {
			continue
		}
		abs, err := filepath.Abs(d)
		if err != nil || st.searched[abs] {
			continue
		}
		st.searched[abs] = true
		loadBackendsFrom(abs)
	}
	return append([]BackendLoad(nil), st.loads...), nil
}

// loadBackendsFrom loads every backend library in dir. backendState.mu is
// held.
func loadBackendsFrom(dir string) {
	st := &backendState
	entries, err := os.ReadDir(dir)
	if err != nil {
		return // a folder that does not exist has no backends
	}
	for _, e := range entries {
		m := backendLib.FindStringSubmatch(e.Name())
		if m == nil || m[1] == "base" || m[1] == "cpu" || st.names[e.Name()] {
			continue
		}
		path := filepath.Join(dir, e.Name())
		cpath := C.CString(path)
		lc := captureLog()
		reg := C.ggml_backend_load(cpath)
		log := lc.end()
		C.free(unsafe.Pointer(cpath))
		ld := BackendLoad{Path: path}
		if reg == nil {
			ld.Err = newError("load backend "+path, 0, log, errors.New("not loaded"))
		} else {
			st.names[e.Name()] = true
			ld.Backend = C.GoString(C.ggml_backend_reg_name(reg))
			base := C.CString(filepath.Join(dir, "libggml-base.so"))
			if C.vlmcmp_route_lib_logs(base) == 0 {
				plain := C.CString("libggml-base.so")
				C.vlmcmp_route_lib_logs(plain)
				C.free(unsafe.Pointer(plain))
			}
			C.free(unsafe.Pointer(base))
		}
		st.loads = append(st.loads, ld)
	}
}

// ensureInit calls Init with zero options the first time.
func ensureInit() {
	backendState.mu.Lock()
	done := backendState.inited
	backendState.mu.Unlock()
	if !done {
		Init(InitOptions{})
	}
}

// Devices lists the compute devices of the loaded backends, the CPU first.
func Devices() ([]Device, error) {
	ensureInit()
	n := int(C.ggml_backend_dev_count())
	devs := make([]Device, 0, n)
	for i := 0; i < n; i++ {
		dev := C.ggml_backend_dev_get(C.size_t(i))
		var props C.struct_ggml_backend_dev_props
		C.ggml_backend_dev_get_props(dev, &props)
		d := Device{
			Name:        goStr(props.name),
			Description: goStr(props.description),
			Type:        deviceType(props._type),
			ID:          goStr(props.device_id),
			MemoryTotal: uint64(props.memory_total),
			MemoryFree:  uint64(props.memory_free),
		}
		if reg := C.ggml_backend_dev_backend_reg(dev); reg != nil {
			d.Backend = C.GoString(C.ggml_backend_reg_name(reg))
			for f := C.vlmcmp_features(reg); f != nil && f.name != nil; f = (*C.struct_ggml_backend_feature)(unsafe.Add(unsafe.Pointer(f), unsafe.Sizeof(*f))) {
				d.Features = append(d.Features, Feature{Name: C.GoString(f.name), Value: goStr(f.value)})
			}
		}
		devs = append(devs, d)
	}
	sort.SliceStable(devs, func(i, j int) bool {
		return devs[i].Type == DeviceCPU && devs[j].Type != DeviceCPU
	})
	return devs, nil
}

// deviceByName finds a loaded device by its name (as Devices names it).
func deviceByName(name string) (C.ggml_backend_dev_t, error) {
	ensureInit()
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	dev := C.ggml_backend_dev_by_name(cname)
	if dev == nil {
		return nil, fmt.Errorf("no device named %q (vlmcmp devices lists them)", name)
	}
	return dev, nil
}

func deviceType(t C.enum_ggml_backend_dev_type) DeviceType {
	switch t {
	case C.GGML_BACKEND_DEVICE_TYPE_CPU:
		return DeviceCPU
	case C.GGML_BACKEND_DEVICE_TYPE_GPU:
		return DeviceGPU
	case C.GGML_BACKEND_DEVICE_TYPE_IGPU:
		return DeviceIGPU
	}
	return DeviceAccel
}

// goStr is C.GoString that maps NULL to "".
func goStr(s *C.char) string {
	if s == nil {
		return ""
	}
	return C.GoString(s)
}

// SystemInfo returns llama.cpp's summary of the CPU features it was built
// with.
func SystemInfo() (string, error) {
	ensureInit()
	return C.GoString(C.llama_print_system_info()), nil
}

// SupportsGPUOffload reports whether a GPU backend is loaded.
func SupportsGPUOffload() bool {
	ensureInit()
	return bool(C.llama_supports_gpu_offload())
}

// MaxParallelSequences returns the most sequences one context may hold.
func MaxParallelSequences() int { return int(C.llama_max_parallel_sequences()) }

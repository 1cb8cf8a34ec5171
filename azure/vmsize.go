package azure

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/csv"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
)

// The bundled VM size table: vm-sizes-from-resource-skus.csv, verbatim from
// /work/shared/azure-examples/compute (origin kubernetes/autoscaler
// cluster-autoscaler/cloudprovider/azure/azure_instance_types.go @ 55c37cd5,
// Apache-2.0, generated upstream from the Resource SKUs API). See
// testdata/PROVENANCE.md.
//
// Upstream computed memory as int64(MemoryGB)*1024, which truncates
// fractional sizes. Rows with 0 MB are treated as unknown, and the sizes
// below, whose real memory is a fraction of a GiB, are corrected with the
// memoryInMB values of the Virtual Machine Sizes API (az vm list-sizes) as
// quoted in public repositories. A fractional size missing from this list
// would be read a little low (at most 1 GiB); the Resource SKUs API, asked
// first, is exact.
//
//go:embed vm-sizes-from-resource-skus.csv
var vmSizesCSV []byte

var fractionalSizesMB = map[string]int64{
	"Standard_B1ls":    512,
	"Standard_D1_v2":   3584,
	"Standard_DS1_v2":  3584,
	"Standard_D1":      3584,
	"Standard_DS1":     3584,
	"Standard_M8ms":    224000,
	"Standard_M8-2ms":  224000,
	"Standard_M8-4ms":  224000,
	"Standard_M16ms":   448000,
	"Standard_M16-4ms": 448000,
	"Standard_M16-8ms": 448000,
}

var (
	tableOnce sync.Once
	tableMB   map[string]int64 // lower-case size name -> MiB
)

// tableMemoryBytes looks a size up in the bundled table.
func tableMemoryBytes(size string) (int64, bool) {
	tableOnce.Do(func() { tableMB = parseSizeTable(vmSizesCSV) })
	mb, ok := tableMB[strings.ToLower(size)]
	if !ok || mb <= 0 {
		return 0, false
	}
	return mb << 20, true
}

func parseSizeTable(data []byte) map[string]int64 {
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		// The file is embedded and checked by a test; an error here is a
		// broken build, and an empty table only makes memory unavailable.
		return map[string]int64{}
	}
	m := make(map[string]int64, len(rows))
	for _, r := range rows[1:] {
		if len(r) < 4 {
			continue
		}
		mb, err := strconv.ParseInt(r[3], 10, 64)
		if err != nil {
			continue
		}
		if fixed, ok := fractionalSizesMB[r[0]]; ok {
			mb = fixed
		}
		m[strings.ToLower(r[0])] = mb
	}
	return m
}

// sizeCache remembers the Resource SKUs API's answers per location, so the
// (large) list is read once per process and location.
type sizeCache struct {
	byLocation map[string]map[string]int64 // location -> lower-case size -> bytes
}

// skuMemoryBytes asks the Resource SKUs API for a size's MemoryGB, once per
// location. The caller holds no lock; the cache is guarded by s.mu.
func (s *ScaleSet) skuMemoryBytes(ctx context.Context, location, size string) (int64, error) {
	loc := strings.ToLower(location)
	s.mu.Lock()
	sizes, ok := s.sizes.byLocation[loc]
	s.mu.Unlock()
	if !ok {
		var err error
		if sizes, err = s.listSKUs(ctx, loc); err != nil {
			if ctx.Err() != nil {
				return 0, err
			}
			// Remember the failure: the table answers from now on, and the
			// log says so once, not at every decision.
			sizes = map[string]int64{}
			s.mu.Lock()
			if s.sizes.byLocation == nil {
				s.sizes.byLocation = map[string]map[string]int64{}
			}
			s.sizes.byLocation[loc] = sizes
			s.mu.Unlock()
			return 0, err
		}
		s.mu.Lock()
		if s.sizes.byLocation == nil {
			s.sizes.byLocation = map[string]map[string]int64{}
		}
		s.sizes.byLocation[loc] = sizes
		s.mu.Unlock()
	}
	return sizes[strings.ToLower(size)], nil
}

func (s *ScaleSet) listSKUs(ctx context.Context, location string) (map[string]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	filter := fmt.Sprintf("location eq '%s'", location)
	pager := s.skus.NewListPager(&armcompute.ResourceSKUsClientListOptions{Filter: &filter})
	sizes := map[string]int64{}
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, s.classify(what{op: "list VM sizes for", perm: permSKUs}, err)
		}
		for _, sku := range page.Value {
			if sku == nil || !strings.EqualFold(str(sku.ResourceType), "virtualMachines") {
				continue
			}
			if b, ok := memoryCapability(sku.Capabilities); ok {
				sizes[strings.ToLower(str(sku.Name))] = b
			}
		}
	}
	return sizes, nil
}

// memoryCapability reads the MemoryGB capability ("0.75", "16") as bytes.
func memoryCapability(caps []*armcompute.ResourceSKUCapabilities) (int64, bool) {
	for _, c := range caps {
		if c == nil || !strings.EqualFold(str(c.Name), "MemoryGB") {
			continue
		}
		gb, err := strconv.ParseFloat(str(c.Value), 64)
		if err != nil || gb <= 0 {
			return 0, false
		}
		return int64(gb * (1 << 30)), true
	}
	return 0, false
}

var memoryAmount = regexp.MustCompile(`(?i)^\s*([0-9]+(?:\.[0-9]+)?)\s*(gib|gb|g|mib|mb|m)\s*$`)

// parseMemoryAmount reads "3.5GiB", "512MiB", "16GB" (GB and MB are read
// as GiB and MiB, as Azure's own size tables mean them).
func parseMemoryAmount(s string) (int64, bool) {
	m := memoryAmount.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil || v <= 0 {
		return 0, false
	}
	if strings.HasPrefix(strings.ToLower(m[2]), "g") {
		return int64(v * (1 << 30)), true
	}
	return int64(v * (1 << 20)), true
}

// memorySource names where a size's memory came from, for the log.
type memorySource string

const (
	fromSKUAPI   memorySource = "resource_skus_api"
	fromTable    memorySource = "bundled_table"
	fromOverride memorySource = "vm_size_setting"
)

// vmMemoryBytes finds the memory of one instance of size in location:
// the Resource SKUs API, else the bundled table, else Config.VMSize (a
// size name looked up the same way, or a memory amount). ok is false when
// nobody knows: memory is then unavailable, never guessed.
func (s *ScaleSet) vmMemoryBytes(ctx context.Context, location, size string) (int64, memorySource, bool) {
	if b, src, ok := s.lookupSize(ctx, location, size); ok {
		return b, src, true
	}
	o := strings.TrimSpace(s.cfg.VMSize)
	if o == "" {
		return 0, "", false
	}
	if b, ok := parseMemoryAmount(o); ok {
		return b, fromOverride, true
	}
	if !strings.EqualFold(o, size) {
		if b, _, ok := s.lookupSize(ctx, location, o); ok {
			return b, fromOverride, true
		}
	}
	return 0, "", false
}

func (s *ScaleSet) lookupSize(ctx context.Context, location, size string) (int64, memorySource, bool) {
	if size == "" {
		return 0, "", false
	}
	if location != "" {
		b, err := s.skuMemoryBytes(ctx, location, size)
		if err != nil {
			s.log.Warn("resource SKUs API unavailable; using the bundled VM size table", "err", err)
		} else if b > 0 {
			return b, fromSKUAPI, true
		}
	}
	if b, ok := tableMemoryBytes(size); ok {
		return b, fromTable, true
	}
	return 0, "", false
}

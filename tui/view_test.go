package tui

import (
	"fmt"
	"testing"
)

func TestPrintViews(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}, {120, 40}} {
		f := newFixture(t, sz[0], sz[1])
		f.loaded()
		fmt.Println(f.m.View())
		fmt.Println("=====")
	}
}

package main

import (
	"testing"

	"github.com/cogs-dev/cogs/host/engine"
	"github.com/cogs-dev/cogs/host/enginetest"
	"github.com/cogs-dev/cogs/sdk/go/cogstest"
)

var cases = []cogstest.Case{
	{
		Name:   "upsert",
		Change: cogstest.Hash("person:1", "first_name", "Ann", "last_name", "Lee", "age", "42"),
		Want:   `outcome=rows rows=[upsert table="persons" keys=["person_id"=str:"1"] cols=["first"=str:"Ann" "last"=str:"Lee" "age"=int:42]]`,
	},
	{
		Name:   "missing fields are NULL",
		Change: cogstest.Hash("person:2", "first_name", "Bo"),
		Want:   `outcome=rows rows=[upsert table="persons" keys=["person_id"=str:"2"] cols=["first"=str:"Bo" "last"=null "age"=null]]`,
	},
	{
		Name:   "unicode",
		Change: cogstest.Hash("person:é", "first_name", "Zoë", "age", "-1"),
		Want:   `outcome=rows rows=[upsert table="persons" keys=["person_id"=str:"\xc3\xa9"] cols=["first"=str:"Zo\xc3\xab" "last"=null "age"=int:-1]]`,
	},
	{
		Name:   "delete",
		Change: cogstest.Deleted("person:1"),
		Want:   `outcome=rows rows=[delete table="persons" keys=["person_id"=str:"1"] cols=[]]`,
	},
	{
		Name:   "bad age is rejected",
		Change: cogstest.Hash("person:3", "first_name", "Cy", "age", "forty"),
		Want:   `outcome=reject reason="age is not an integer"`,
	},
}

func TestPersonsNative(t *testing.T) {
	cogstest.Check(t, cogstest.Native(t, nil), cases)
}

func TestPersonsWasm(t *testing.T) {
	wasm := enginetest.Build(t, ".")
	cogstest.Check(t, enginetest.New(t, "persons", wasm, nil, engine.Config{}), cases)
}

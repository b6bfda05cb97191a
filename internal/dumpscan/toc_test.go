package dumpscan

import "testing"

// Tables come from pg_dump's table of contents comments, not from text
// that looks like one inside a string or a function body, nor from other
// kinds of objects; split writes change nothing.
func TestTOCTables(t *testing.T) {
	dump := `--
-- Name: directus_activity; Type: TABLE; Schema: public; Owner: directus
--

CREATE TABLE public.directus_activity (
    id integer NOT NULL
);

--
-- Name: My$Table; Type: TABLE; Schema: cms; Owner: -
--
-- Name: v; Type: VIEW; Schema: public; Owner: directus
-- Name: directus_activity_id_seq; Type: SEQUENCE; Schema: public; Owner: directus
COMMENT ON TABLE public.directus_activity IS '
-- Name: fake; Type: TABLE; Schema: public; Owner: x
';
CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS $$
-- Name: fake2; Type: TABLE; Schema: public; Owner: x
SELECT 1 $$;
SELECT 1; -- Name: fake3; Type: TABLE; Schema: public; Owner: x
--
-- Data for Name: directus_activity; Type: TABLE DATA; Schema: public; Owner: directus
--
`
	for _, step := range []int{len(dump), 1, 7} {
		s := New()
		for i := 0; i < len(dump); i += step {
			s.Write([]byte(dump[i:min(i+step, len(dump))]))
		}
		want := []TableName{{"public", "directus_activity"}, {"cms", "My$Table"}}
		if len(s.Tables) != len(want) || s.Tables[0] != want[0] || s.Tables[1] != want[1] {
			t.Errorf("step %d: tables %+v", step, s.Tables)
		}
	}
}

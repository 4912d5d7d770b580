import Foundation
import JSONInput
import Testing

@Suite("A top-level member's raw bytes")
struct JSONMemberTests {
    func member(_ name: String, _ json: String) -> String? {
        let bytes = Array(json.utf8)
        return JSONMember.range(of: name, in: bytes).map { String(decoding: bytes[$0], as: UTF8.self) }
    }

    @Test("finds the member whatever comes before it, exactly as written")
    func findsTheMember() {
        let json = #" { "customer_id" : "cus_1", "tags": ["a", {"order": 1}], "n": -1.50e3, "ok": true, "order" : {"lines": [{"id": "}\"{"}], "x": null} } "#
        #expect(member("order", json) == #"{"lines": [{"id": "}\"{"}], "x": null}"#)
        #expect(member("customer_id", json) == #""cus_1""#)
        #expect(member("n", json) == "-1.50e3")
        #expect(member("ok", json) == "true")
        #expect(member("tags", json) == #"["a", {"order": 1}]"#)
    }

    @Test("a nested member of the same name is not the top-level one; a missing member or a non-object body gives nil")
    func onlyTheTopLevel() {
        #expect(member("order", #"{"payment": {"order": {"a": 1}}}"#) == nil)
        #expect(member("order", #"[{"order": {}}]"#) == nil)
        #expect(member("order", #""order""#) == nil)
        #expect(member("order", "{}") == nil)
    }

    @Test("a name written with escapes matches the name it spells")
    func escapedNames() {
        #expect(member("order", #"{"\u006frder": {"a": 1}}"#) == #"{"a": 1}"#)
        #expect(member("say \"hi\"", #"{"say \"hi\"": 2}"#) == "2")
    }
}

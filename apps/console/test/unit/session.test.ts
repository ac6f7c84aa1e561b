import { describe, expect, it } from "vitest";
import { claimsOf, rolesOf, sessionOf } from "../../src/session.ts";
import { nextPage, previousPage } from "../../src/trial/orders.ts";

/** A JWT's shape (base64url of the UTF-8 JSON payload); the signature is the services' business. */
const jwt = (payload: object) => {
  const bytes = new TextEncoder().encode(JSON.stringify(payload));
  const base64 = btoa(String.fromCharCode(...bytes));
  return ["e30", base64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""), "sig"].join(".");
};

describe("what a token says, as the console reads it", () => {
  it("reads the roles from a claim path, as an array or a space-separated string", () => {
    expect(rolesOf({ roles: ["customer", 3] }, "roles")).toEqual(["customer"]);
    expect(rolesOf({ realm_access: { roles: ["admin", "person"] } }, "realm_access.roles")).toEqual([
      "admin",
      "person",
    ]);
    expect(rolesOf({ scope: "marketer  courier" }, "scope")).toEqual(["marketer", "courier"]);
    // A namespaced claim (Auth0) is one name, dots and all.
    expect(
      rolesOf({ "https://hexa.example.com/roles": ["courier"] }, "https://hexa.example.com/roles"),
    ).toEqual(["courier"]);
    expect(rolesOf({}, "roles")).toEqual([]);
  });

  it("opens a session from a token: subject, roles and expiry", () => {
    const token = jwt({ sub: "Zoë", roles: ["person"], exp: 2_000_000_000 });
    expect(claimsOf(token).sub).toBe("Zoë");
    expect(sessionOf(token, "roles", "oidc")).toEqual({
      token,
      subject: "Zoë",
      roles: ["person"],
      expiresAt: 2_000_000_000,
      via: "oidc",
    });
  });

  it("pages forward by the answer's token and back by the trail", () => {
    const second = nextPage([], "t1");
    const third = nextPage(second, "t2");
    expect(third).toEqual(["t1", "t2"]);
    expect(nextPage(third, "")).toBe(third); // the last page has no next token
    expect(previousPage(third)).toEqual(["t1"]);
    expect(previousPage([])).toEqual([]);
  });
});

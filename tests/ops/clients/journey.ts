// A shopper's journey through types generated from the served schema (openapi-typescript)
// and openapi-fetch, the way a SPA or mobile team writes it. Type-checked under
// `tsc --strict` with no casts (tests/ops/test_api_clients.py), and run against a live server.
//
// It shows the auth pattern the README recommends: keep the pair, send the access token,
// and on a 401 `token_expired`/`token_invalid` refresh ONCE for every call that saw it
// (one in-flight refresh shared by all), then retry each call once.
import createClient from "openapi-fetch";

import type { components, paths } from "./api";

type TokenPair = components["schemas"]["TokenPair"];
type Address = components["schemas"]["ShippingAddressRequest"];

export interface JourneyResult {
  order: string;
  status: components["schemas"]["OrderStatus"];
  payment: components["schemas"]["PaymentStatusEnum"];
  refreshes: number;
  concurrentCalls: number;
}

export class Session {
  private tokens: TokenPair | null = null;
  private refreshing: Promise<void> | null = null;
  refreshes = 0;
  readonly api;
  private readonly bare;

  constructor(baseUrl: string) {
    // `bare` has no auth handling: login and refresh go through it.
    this.bare = createClient<paths>({ baseUrl });
    this.api = createClient<paths>({ baseUrl, fetch: (request) => this.send(request) });
  }

  async login(email: string, password: string): Promise<TokenPair> {
    const { data, error } = await this.bare.POST("/api/v1/auth/login/", {
      body: { email, password, device_name: "Journey", platform: "test" },
    });
    if (error) {
      // 401 invalid_credentials, 403 email_not_verified, 429 too_many_attempts | throttled...
      throw new Error(`login failed: ${error.code}: ${error.detail}`);
    }
    if ("mfa_required" in data) {
      // 202: a staff account with two-factor authentication; a shopper never gets this.
      throw new Error("login needs a second factor: POST auth/login/2fa/ with the challenge");
    }
    this.tokens = data;
    return data;
  }

  /** Break the access token, as if it had expired, so the next calls must refresh. */
  spoilAccessToken(): void {
    if (this.tokens) {
      this.tokens = { ...this.tokens, access: `${this.tokens.access}x` };
    }
  }

  private withToken(request: Request): Request {
    const authed = new Request(request);
    if (this.tokens) {
      authed.headers.set("Authorization", `Bearer ${this.tokens.access}`);
    }
    return authed;
  }

  private async send(request: Request): Promise<Response> {
    const retry = request.clone();
    const response = await fetch(this.withToken(request));
    if (response.status !== 401 || this.tokens === null) {
      return response;
    }
    const body: unknown = await response.clone().json();
    const retryable =
      typeof body === "object" &&
      body !== null &&
      "code" in body &&
      (body.code === "token_expired" || body.code === "token_invalid");
    if (!retryable) {
      return response;
    }
    await this.refreshOnce();
    return fetch(this.withToken(retry));
  }

  /** One refresh in flight, shared by every caller that needs it. */
  refreshOnce(): Promise<void> {
    if (this.refreshing === null) {
      this.refreshing = this.refresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async refresh(): Promise<void> {
    if (this.tokens === null) {
      throw new Error("not logged in");
    }
    this.refreshes += 1;
    const { data, error } = await this.bare.POST("/api/v1/auth/refresh/", {
      body: { refresh: this.tokens.refresh },
    });
    if (data) {
      this.tokens = data;
      return;
    }
    switch (error.code) {
      case "token_rotated":
        // Another tab refreshed a moment ago and holds the new pair: nothing was revoked.
        // Take the pair from wherever tabs share it; this journey has one tab only.
        throw new Error("refresh token was rotated elsewhere");
      case "token_reused":
      case "token_expired":
      case "token_invalid":
        this.tokens = null; // the session is over: log in again
        throw new Error(`log in again: ${error.code}`);
      default:
        throw new Error(`refresh failed: ${error.code}: ${error.detail}`);
    }
  }
}

export async function shopperJourney(
  baseUrl: string,
  email: string,
  password: string,
  idempotencyKey: string,
): Promise<JourneyResult> {
  const session = new Session(baseUrl);

  // Browsing needs no token.
  const catalog = await session.api.GET("/api/v1/products/", {
    params: { query: { in_stock: true, ordering: "price", page_size: 5 } },
  });
  if (catalog.error) {
    throw new Error(`catalog: ${catalog.error.code}`);
  }
  const product = catalog.data.results[0];
  if (product === undefined) {
    throw new Error("no product in stock");
  }

  const pair = await session.login(email, password);
  if (pair.expires_in <= 0) {
    throw new Error("access token already expired");
  }

  const added = await session.api.POST("/api/v1/cart/items/", {
    body: { product: product.id, quantity: 1 },
  });
  if (added.error) {
    // 400 invalid: the field errors are under `fields`, by field path.
    const messages = added.error.fields?.["quantity"] ?? [];
    throw new Error(`add to cart: ${added.error.code} ${messages.map((m) => m.message)}`);
  }

  // Three calls at once with a dead access token: one refresh serves them all.
  session.spoilAccessToken();
  const [cart, me, devices] = await Promise.all([
    session.api.GET("/api/v1/cart/"),
    session.api.GET("/api/v1/auth/me/"),
    session.api.GET("/api/v1/auth/sessions/"),
  ]);
  if (cart.error || me.error || devices.error) {
    throw new Error("calls after the refresh failed");
  }
  if (cart.data.items.length !== 1 || me.data.email !== email || devices.data.length < 1) {
    throw new Error("unexpected cart, account or sessions");
  }

  const address: Address = {
    full_name: "Ada Lovelace",
    line1: "12 St James's Square",
    line2: "",
    city: "London",
    postal_code: "SW1Y 4JH",
    country: "GB",
  };
  const placed = await session.api.POST("/api/v1/orders/", {
    params: { header: { "Idempotency-Key": idempotencyKey } },
    body: { shipping_address: address },
  });
  if (placed.error) {
    if (placed.error.code === "insufficient_stock") {
      const short = placed.error.lines ?? [];
      throw new Error(`short: ${short.map((l) => `${l.product}: ${l.available}`).join(", ")}`);
    }
    throw new Error(`checkout: ${placed.error.code}`);
  }
  const number = placed.data.number;

  const paid = await session.api.POST("/api/v1/orders/{number}/payments/", {
    params: { path: { number }, header: { "Idempotency-Key": `${idempotencyKey}-pay` } },
    body: { gateway: "dummy", card_number: "4242424242424242" },
  });
  if (paid.error) {
    throw new Error(`payment: ${paid.error.code}`);
  }

  const order = await session.api.GET("/api/v1/orders/{number}/", {
    params: { path: { number } },
  });
  if (order.error) {
    throw new Error(`order: ${order.error.code}`);
  }
  return {
    order: order.data.number,
    status: order.data.status,
    payment: paid.data.status,
    refreshes: session.refreshes,
    concurrentCalls: 3,
  };
}

// node journey.js <base url> <email> <password> <idempotency key>: print the result as JSON.
const [, , baseUrl, email, password, key] = process.argv;
if (baseUrl && email && password && key) {
  shopperJourney(baseUrl, email, password, key).then(
    (result) => console.log(JSON.stringify(result)),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}

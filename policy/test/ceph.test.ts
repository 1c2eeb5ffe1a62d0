import * as ceph from "../ceph";
import * as fx from "./fixtures";
import { changed, expectOne } from "./harness";

describe("ceph policies", () => {
    describe("ceph-objectstoreuser-no-capabilities", () => {
        const policy = ceph.cephObjectStoreUserNoCapabilities;
        it("passes the program's user (no capabilities)", () => expectOne(policy, fx.objectStoreUser()));
        it("passes empty capabilities", () =>
            expectOne(policy, changed(fx.objectStoreUser(), ["props", "spec", "capabilities"], { user: "", bucket: "" })));
        it("fails any one capability", () =>
            expectOne(policy, changed(fx.objectStoreUser(), ["props", "spec", "capabilities"], { bucket: "read" }), /bucket: "read"/));
    });

    describe("ceph-objectbucketclaim-bucket-owner", () => {
        const policy = ceph.cephObjectBucketClaimBucketOwner;
        it("passes the program's claim", () => expectOne(policy, fx.objectBucketClaim()));
        it("fails a claim without bucketOwner", () =>
            expectOne(
                policy,
                changed(fx.objectBucketClaim(), ["props", "spec", "additionalConfig", "bucketOwner"], undefined),
                /bucketOwner is not set/,
            ));
        it("fails an empty bucketOwner", () =>
            expectOne(
                policy,
                changed(fx.objectBucketClaim(), ["props", "spec", "additionalConfig", "bucketOwner"], ""),
                /bucketOwner is not set/,
            ));
    });

    describe("ceph-objectbucketclaim-lifecycle-min-expiration", () => {
        const policy = ceph.cephObjectBucketClaimLifecycleMinExpiration;
        const lifecycle = ["props", "spec", "additionalConfig", "bucketLifecycle"];
        it("passes the program's lifecycle (38 days)", () => expectOne(policy, fx.objectBucketClaim()));
        it("fails 7 days", () => expectOne(policy, changed(fx.objectBucketClaim(), lifecycle, fx.rookLifecycle(7)), /after 7 days/));
        it("passes a claim without lifecycle", () => expectOne(policy, changed(fx.objectBucketClaim(), lifecycle, undefined)));
        it("fails a lifecycle that is not JSON", () =>
            expectOne(policy, changed(fx.objectBucketClaim(), lifecycle, "<xml/>"), /not valid JSON/));
    });
});

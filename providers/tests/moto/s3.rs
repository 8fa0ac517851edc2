//! aws:s3:Bucket against moto, beyond the lifecycle table: a bucket holding objects (versions and delete markers)
//! is emptied and then deleted, and its plan says it loses data.

use crate::support::{actions, Env};

#[tokio::test(flavor = "multi_thread")]
async fn a_bucket_with_objects_is_emptied_then_deleted() {
    let mut env = Env::new("s3-holding").await;
    let stack = env.stack("resources:\n  b:\n    type: aws:s3:Bucket\n    properties: {bucketName: s3-holding, versioning: {enabled: true}}\n");
    env.converge(&stack).await;
    let config = aws_sdk_s3::config::Builder::from(&env.config).force_path_style(true).build();
    let s3 = aws_sdk_s3::Client::from_conf(config);
    for (key, body) in [("a.txt", "one"), ("a.txt", "two"), ("b/c.txt", "three")] {
        let request = s3.put_object().bucket("s3-holding").key(key).body(body.as_bytes().to_vec().into());
        request.send().await.unwrap();
    }
    s3.delete_object().bucket("s3-holding").key("b/c.txt").send().await.unwrap();
    let versions = s3.list_object_versions().bucket("s3-holding").send().await.unwrap();
    assert_eq!((versions.versions().len(), versions.delete_markers().len()), (3, 1));

    let plan = env.plan(&env.stack("resources: {}\n")).await;
    assert_eq!(actions(&plan), [("b".to_string(), "delete")]);
    assert!(plan.changes[0].data_loss, "deleting a bucket loses its objects");
    env.apply_plan(&plan).await;
    let gone = s3.head_bucket().bucket("s3-holding").send().await;
    assert!(gone.is_err(), "the bucket was emptied and deleted");
}

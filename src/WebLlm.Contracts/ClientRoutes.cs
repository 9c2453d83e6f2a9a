namespace WebLlm.Contracts;

/// <summary>
/// Routes of issue 3 that <see cref="ApiRoutes"/> does not name yet (added by the Client, additive only).
/// </summary>
public static class ClientRoutes
{
    public static string RunTransitions(int id) => $"{ApiRoutes.Runs}/{id}/transitions";
    public static string DatasetPreview(int id) => $"{ApiRoutes.Datasets}/{id}/preview";
}

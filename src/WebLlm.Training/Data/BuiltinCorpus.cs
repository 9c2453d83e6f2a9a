using System.Runtime.InteropServices;
using System.Text;
using System.Xml;

namespace WebLlm.Training.Data;

/// <summary>One unit of text; GPT-2 datasets put &lt;|endoftext|&gt; before each.</summary>
/// <param name="Name">Where it came from: a file path or a documentation member id such as "M:System.String.Join(...)".</param>
public sealed record CorpusDocument(string Name, string Text);

/// <summary>
/// English prose that exists wherever the .NET SDK does: the summary and remarks of every documented API in
/// the reference pack's XML files (about 11 MB of text), so a model can be trained with nothing downloaded.
/// </summary>
public sealed class BuiltinCorpus
{
    public BuiltinCorpus(string xmlDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(xmlDirectory);
        var files = Directory.Exists(xmlDirectory) ? Directory.GetFiles(xmlDirectory, "*.xml") : [];
        if (files.Length == 0)
        {
            throw new DirectoryNotFoundException($"No XML documentation files in {xmlDirectory}.");
        }

        Array.Sort(files, StringComparer.Ordinal);
        XmlDirectory = xmlDirectory;
        Files = files;
    }

    public string XmlDirectory { get; }

    /// <summary>The XML files, in ordinal order so documents always come out in the same order.</summary>
    public IReadOnlyList<string> Files { get; }

    /// <summary>
    /// The folder a publish of the server ships the XML files in (<see cref="ShippedFolder"/>), else the newest
    /// Microsoft.NETCore.App.Ref pack of this runtime's dotnet root.
    /// </summary>
    public static BuiltinCorpus Locate() => new(FindXmlDirectory());

    /// <summary>
    /// Next to the program: where <c>dotnet publish</c> of the server copies the reference pack's XML files, because a
    /// machine (or container) with only the .NET runtime, or a self-contained publish, has no SDK and so no packs.
    /// </summary>
    public const string ShippedFolder = "builtin-corpus";

    public static string FindXmlDirectory()
    {
        var shipped = Path.Combine(AppContext.BaseDirectory, ShippedFolder);
        if (Directory.Exists(shipped) && Directory.EnumerateFiles(shipped, "*.xml").Any())
        {
            return shipped;
        }

        var root = FindDotnetRoot();
        var packs = Path.Combine(root, "packs", "Microsoft.NETCore.App.Ref");
        var candidates = Directory.Exists(packs)
            ? Directory.GetDirectories(packs)
                .Select(dir => (Dir: dir, Version: Version.TryParse(Path.GetFileName(dir).Split('-')[0], out var v) ? v : null))
                .Where(c => c.Version is not null && Directory.Exists(XmlFolder(c.Dir)))
                .OrderByDescending(c => c.Version)
                .ThenByDescending(c => c.Dir, StringComparer.Ordinal)
                .ToList()
            : [];
        if (candidates.Count == 0)
        {
            throw new DirectoryNotFoundException(
                $"The built-in corpus needs the .NET SDK's reference pack, but no {packs}/<version>/ref/net10.0 folder exists "
                + $"(dotnet root from DOTNET_ROOT or the running runtime's location), nor a {ShippedFolder} folder next to the program "
                + "(a publish of the server has one). Install the .NET 10 SDK or set DOTNET_ROOT, or upload a corpus.");
        }

        return XmlFolder(candidates[0].Dir);
    }

    private static string XmlFolder(string packVersionDir) => Path.Combine(packVersionDir, "ref", "net10.0");

    private static string FindDotnetRoot()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("DOTNET_ROOT");
        if (!string.IsNullOrEmpty(fromEnvironment) && Directory.Exists(Path.Combine(fromEnvironment, "packs")))
        {
            return fromEnvironment;
        }

        // <root>/shared/Microsoft.NETCore.App/<version>/
        var runtime = new DirectoryInfo(RuntimeEnvironment.GetRuntimeDirectory());
        return runtime.Parent?.Parent?.Parent?.FullName
            ?? throw new DirectoryNotFoundException($"Cannot derive the dotnet root from the runtime folder {runtime.FullName}.");
    }

    /// <summary>The documents of one XML file: each member's summary and remarks as one line of plain text.</summary>
    public static IEnumerable<CorpusDocument> ReadDocuments(Stream xml)
    {
        using var reader = XmlReader.Create(xml, new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, IgnoreComments = true });
        while (reader.ReadToFollowing("member"))
        {
            var name = reader.GetAttribute("name") ?? "";
            using var member = reader.ReadSubtree();
            var text = new StringBuilder();
            member.Read();
            while (member.Read())
            {
                if (member.NodeType == XmlNodeType.Element && member.Name is "summary" or "remarks")
                {
                    using var section = member.ReadSubtree();
                    AppendProse(section, text);
                    text.Append(' ');
                }
            }

            var prose = CollapseWhitespace(text);
            if (prose.Length > 0)
            {
                yield return new CorpusDocument(name, prose);
            }
        }
    }

    private static void AppendProse(XmlReader section, StringBuilder text)
    {
        section.Read();
        while (!section.EOF)
        {
            if (section.NodeType == XmlNodeType.Element && section.Name == "code")
            {
                // Code samples are not prose; they would teach the model C# syntax rather than English.
                section.Skip();
                continue;
            }

            if (section.NodeType is XmlNodeType.Text or XmlNodeType.CDATA or XmlNodeType.Whitespace or XmlNodeType.SignificantWhitespace)
            {
                text.Append(section.Value);
            }
            else if (section.NodeType == XmlNodeType.Element)
            {
                // Block elements become spaces so their words do not run together.
                text.Append(Reference(section) ?? (section.Name is "para" or "p" or "br" or "list" or "item" or "term" or "description" or "li" ? " " : ""));
            }

            section.Read();
        }
    }

    /// <summary>How a self-closing reference reads in prose; null for elements whose content is the text.</summary>
    private static string? Reference(XmlReader element)
    {
        if (element.GetAttribute("langword") is { } langword)
        {
            return langword;
        }

        if (element.Name is "paramref" or "typeparamref")
        {
            return element.GetAttribute("name");
        }

        // <see cref="..."/> and <xref uid="..."></xref> carry no text of their own; <see cref="...">text</see> does.
        var target = element.GetAttribute("cref") ?? element.GetAttribute("uid");
        return target is not null && (element.IsEmptyElement || element.Name == "xref") ? CrefName(target) : null;
    }

    /// <summary>"M:System.String.Join(System.String,System.String[])" reads as "Join", "T:System.Collections.Generic.List`1" as "List".</summary>
    public static string CrefName(string cref)
    {
        var id = cref.Length > 1 && cref[1] == ':' ? cref[2..] : cref;
        var parameters = id.IndexOf('(', StringComparison.Ordinal);
        if (parameters >= 0)
        {
            id = id[..parameters];
        }

        var generic = id.IndexOf('`', StringComparison.Ordinal);
        var segments = (generic >= 0 ? id[..generic] : id).Split('.');
        var name = segments[^1];
        // A constructor is named after its type.
        return name == "#ctor" && segments.Length > 1 ? segments[^2] : name;
    }

    private static string CollapseWhitespace(StringBuilder text)
    {
        var collapsed = new StringBuilder(text.Length);
        foreach (var chunk in text.GetChunks())
        {
            foreach (var c in chunk.Span)
            {
                if (!char.IsWhiteSpace(c))
                {
                    collapsed.Append(c);
                }
                else if (collapsed.Length > 0 && collapsed[^1] != ' ')
                {
                    collapsed.Append(' ');
                }
            }
        }

        if (collapsed.Length > 0 && collapsed[^1] == ' ')
        {
            collapsed.Length--;
        }

        return collapsed.ToString();
    }
}

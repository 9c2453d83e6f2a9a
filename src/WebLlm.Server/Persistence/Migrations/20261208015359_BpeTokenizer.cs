using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace WebLlm.Server.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class BpeTokenizer : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<bool>(
                name: "BpeChatTokens",
                table: "Datasets",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<string>(
                name: "BpeSplit",
                table: "Datasets",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "BpeVocabSize",
                table: "Datasets",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "ValBytes",
                table: "Datasets",
                type: "INTEGER",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "BpeChatTokens",
                table: "Datasets");

            migrationBuilder.DropColumn(
                name: "BpeSplit",
                table: "Datasets");

            migrationBuilder.DropColumn(
                name: "BpeVocabSize",
                table: "Datasets");

            migrationBuilder.DropColumn(
                name: "ValBytes",
                table: "Datasets");
        }
    }
}

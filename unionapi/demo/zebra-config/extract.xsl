<?xml version="1.0" encoding="UTF-8"?>
<!-- MARC21 (MARCXML) to Zebra index instructions, giving the bib-1 use attributes a harvester
     and a Koha OPAC need: Title (4), Author (1003), Any (1016), Local-number (12, from 001),
     Date/time-last-modified (1012, from 005, a key index so that range searches on
     YYYYMMDDhhmmss compare as strings). Leader/05 = 'd' turns the record into a deletion. -->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:m="http://www.loc.gov/MARC21/slim"
    xmlns:z="http://indexdata.com/zebra-2.0"
    exclude-result-prefixes="m">
  <xsl:output method="xml" encoding="UTF-8" indent="no"/>

  <xsl:template match="text()"/>

  <xsl:template match="/m:record | /m:collection/m:record | /record">
    <xsl:variable name="id" select="normalize-space(*[local-name()='controlfield'][@tag='001'])"/>
    <xsl:variable name="status" select="substring(*[local-name()='leader'], 6, 1)"/>
    <z:record z:id="{$id}">
      <xsl:attribute name="z:type">
        <xsl:choose>
          <xsl:when test="$status = 'd'">delete</xsl:when>
          <xsl:otherwise>update</xsl:otherwise>
        </xsl:choose>
      </xsl:attribute>
      <z:index name="Local-number:0 Local-number:w"><xsl:value-of select="$id"/></z:index>
      <xsl:for-each select="*[local-name()='controlfield'][@tag='005']">
        <z:index name="Date/time-last-modified:0">
          <xsl:value-of select="substring(normalize-space(.), 1, 14)"/>
        </z:index>
      </xsl:for-each>
      <xsl:for-each select="*[local-name()='datafield'][@tag='245']">
        <z:index name="Title:w Title:p">
          <xsl:for-each select="*[local-name()='subfield'][@code='a' or @code='b' or @code='n' or @code='p']">
            <xsl:if test="position() > 1"><xsl:text> </xsl:text></xsl:if>
            <xsl:value-of select="."/>
          </xsl:for-each>
        </z:index>
      </xsl:for-each>
      <xsl:for-each select="*[local-name()='datafield'][@tag='100' or @tag='110' or @tag='111'
                                                      or @tag='700' or @tag='710' or @tag='711']">
        <z:index name="Author:w Author:p">
          <xsl:value-of select="*[local-name()='subfield'][@code='a']"/>
        </z:index>
      </xsl:for-each>
      <xsl:for-each select="*[local-name()='datafield'][number(@tag) &lt; 900]/*[local-name()='subfield']">
        <z:index name="Any:w"><xsl:value-of select="."/></z:index>
      </xsl:for-each>
    </z:record>
  </xsl:template>
</xsl:stylesheet>
